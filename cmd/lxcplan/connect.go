package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

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
			Logger:            zerologTransport{e.log},
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
	return []transport.Middleware{transport.Trace(hs.e.stderr(), name)}
}

// errWriters holds one mutex-guarded stderr per run (per env): the -x
// trace of every host's runner and the progress output write to it from
// many goroutines, and the stream itself (a bytes.Buffer in tests, a pipe in
// CI) is not safe for concurrent writes.
var errWriters sync.Map // *env → *syncWriter

// stderr is e.errOut behind the run's shared lock; everything written to
// stderr while commands run concurrently goes through it.
func (e *env) stderr() io.Writer {
	w, _ := errWriters.LoadOrStore(e, &syncWriter{w: e.errOut})
	return w.(*syncWriter)
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

// zerologTransport adapts the CLI's zerolog logger to transport.Logger, so
// that zerolog stays a dependency of this package only.
type zerologTransport struct{ log zerolog.Logger }

func (z zerologTransport) Log(level transport.LogLevel, msg string, fields ...transport.Field) {
	lvl := zerolog.DebugLevel
	if level == transport.LogInfo {
		lvl = zerolog.InfoLevel
	}
	ev := z.log.WithLevel(lvl)
	if ev == nil {
		return // below the configured level
	}
	for _, f := range fields {
		switch v := f.Value.(type) {
		case string:
			ev = ev.Str(f.Key, v)
		case bool:
			ev = ev.Bool(f.Key, v)
		case int:
			ev = ev.Int(f.Key, v)
		case time.Duration:
			ev = ev.Dur(f.Key, v)
		default:
			ev = ev.Interface(f.Key, v)
		}
	}
	ev.Msg(msg)
}
