package ssh

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// Pool dials each configured host lazily, once, and shares the Client with
// every caller for the rest of the run. A failed dial is remembered, so a
// run with many containers on an unreachable host fails fast instead of
// waiting for one timeout per container.
type Pool struct {
	mu      sync.Mutex
	configs map[string]Config
	entries map[string]*poolEntry
}

type poolEntry struct {
	ready  chan struct{}
	client *Client
	err    error
}

// NewPool returns a pool over the given hosts, keyed by Config.Name (or
// Address when Name is empty).
func NewPool(configs ...Config) *Pool {
	p := &Pool{configs: map[string]Config{}, entries: map[string]*poolEntry{}}
	for _, c := range configs {
		name := c.Name
		if name == "" {
			name = c.Address
		}
		p.configs[name] = c
	}
	return p
}

// Client returns the shared client for name, dialling on first use.
// Concurrent first callers wait for the same dial.
func (p *Pool) Client(ctx context.Context, name string) (*Client, error) {
	p.mu.Lock()
	cfg, ok := p.configs[name]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("ssh pool: unknown host %q", name)
	}
	e, ok := p.entries[name]
	if !ok {
		e = &poolEntry{ready: make(chan struct{})}
		p.entries[name] = e
		p.mu.Unlock()
		e.client, e.err = Dial(ctx, cfg)
		if errors.Is(e.err, transport.ErrCancelled) {
			// Our caller gave up; that says nothing about the host, so let
			// the next caller dial again.
			p.mu.Lock()
			delete(p.entries, name)
			p.mu.Unlock()
		}
		close(e.ready)
		return e.client, e.err
	}
	p.mu.Unlock()
	select {
	case <-e.ready:
		return e.client, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: connect to %s: %w", transport.ErrCancelled, name, ctx.Err())
	}
}

// Runner returns a transport.Runner for name that dials on its first command.
func (p *Pool) Runner(name string) transport.Runner {
	return transport.RunFunc(func(ctx context.Context, c transport.Command) (transport.Result, error) {
		cl, err := p.Client(ctx, name)
		if err != nil {
			return transport.Result{}, err
		}
		return cl.Run(ctx, c)
	})
}

// Close closes every client dialled so far.
func (p *Pool) Close() error {
	p.mu.Lock()
	entries := make([]*poolEntry, 0, len(p.entries))
	for _, e := range p.entries {
		entries = append(entries, e)
	}
	p.mu.Unlock()
	for _, e := range entries {
		<-e.ready
		if e.client != nil {
			e.client.Close()
		}
	}
	return nil
}
