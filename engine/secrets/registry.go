package secrets

import (
	"context"
	"sync"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// Registrar is what a [Store] registers every secret value with, so that the
// value is masked everywhere from then on. [*Registry] is the usual one.
type Registrar interface {
	Add(values ...string)
}

// Registry is the run's growing set of secret values. Unlike a
// [transport.Redactor], which is fixed once built, it takes new values while
// commands are running (a secret generated for one container must be masked
// in every later command of every host), and it is safe for concurrent use.
//
// TODO(transport): if transport.Redactor grows a concurrency-safe Add and
// its Redact middleware reads a live set, this type can shrink to a
// Registrar adapter.
type Registry struct {
	mu sync.RWMutex
	r  *transport.Redactor
}

var _ Registrar = (*Registry)(nil)

// NewRegistry returns a Registry that already masks values (secret params
// given by the user, for instance).
func NewRegistry(values ...string) *Registry {
	return &Registry{r: transport.NewRedactor(values...)}
}

// Add registers more secret values; empty strings are ignored.
func (g *Registry) Add(values ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.r = g.r.With(values...)
}

// Redactor returns a snapshot of the current set.
func (g *Registry) Redactor() *transport.Redactor {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.r
}

// Secrets returns the values registered so far.
func (g *Registry) Secrets() []string { return g.Redactor().Secrets() }

// String masks every registered value in s.
func (g *Registry) String(s string) string { return g.Redactor().String(s) }

// Error masks every registered value in err's message (see
// [transport.Redactor.Error]).
func (g *Registry) Error(err error) error { return g.Redactor().Error(err) }

// Middleware is [transport.Redact] over the live set: each command is
// masked with the values registered by the time it runs. Put it first in
// [transport.Chain].
func (g *Registry) Middleware() transport.Middleware {
	return func(next transport.RunFunc) transport.RunFunc {
		return func(ctx context.Context, c transport.Command) (transport.Result, error) {
			r := g.Redactor().With(c.Redact...)
			c.Redact = r.Secrets()
			res, err := next(ctx, c)
			return res, r.Error(err)
		}
	}
}
