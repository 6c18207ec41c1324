package main

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/lxcplan/lxcplan/engine/inventory"
	"github.com/lxcplan/lxcplan/engine/model"
	"github.com/lxcplan/lxcplan/engine/transport"
	"github.com/lxcplan/lxcplan/engine/transport/local"
	"github.com/lxcplan/lxcplan/engine/transport/ssh"
)

// hostSet holds one connection per stack host for the whole run (design.md
// §6): every command to a host shares its SSH connection.
type hostSet struct {
	e     *env
	hosts map[string]*model.Host
	pool  *ssh.Pool
}

func newHostSet(e *env, st *model.Stack) *hostSet {
	hs := &hostSet{e: e, hosts: st.Hosts}
	var cfgs []ssh.Config
	for _, name := range st.HostNames() {
		h := st.Hosts[name]
		if h.Local {
			continue
		}
		cfgs = append(cfgs, ssh.Config{
			Name:              name,
			Address:           h.Address,
			User:              h.User,
			Port:              h.Port,
			IdentityFile:      h.Identity,
			KnownHostsFile:    e.knownHosts,
			AcceptNewHostKeys: e.acceptNewHostKeys,
			Logger:            e.log,
		})
	}
	hs.pool = ssh.NewPool(cfgs...)
	return hs
}

func (hs *hostSet) Close() error { return hs.pool.Close() }

// address is how a host is shown to people: where lxcplan connects.
func (hs *hostSet) address(name string) string {
	h := hs.hosts[name]
	switch {
	case h == nil:
		return ""
	case h.Local:
		return "local"
	case h.Port != 0 && h.Port != 22:
		return net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
	}
	return h.Address
}

// middlewares are applied to every runner, in one place: the -x trace.
func (hs *hostSet) middlewares(name string) []transport.Middleware {
	if !hs.e.trace {
		return nil
	}
	return []transport.Middleware{transport.Trace(hs.e.errOut, name+": ")}
}

// dialer connects to one host: locally for `local: true`, else over SSH.
func (hs *hostSet) dialer(name string) inventory.Dialer {
	return func(ctx context.Context) (transport.Runner, error) {
		h := hs.hosts[name]
		if h == nil {
			return nil, fmt.Errorf("host %q is not declared", name)
		}
		if h.Local {
			return transport.Chain(&local.Runner{Name: name}, hs.middlewares(name)...), nil
		}
		c, err := hs.pool.Client(ctx, name)
		if err != nil {
			return nil, err
		}
		return transport.Chain(c, hs.middlewares(name)...), nil
	}
}
