package exec

import (
	"context"
	"encoding/hex"
	"fmt"
	"path"

	"github.com/lxcplan/lxcplan/engine/journal"
	"github.com/lxcplan/lxcplan/engine/secrets"
	"github.com/lxcplan/lxcplan/engine/transport"
)

// The stack's fingerprint key (plan.Options.SecretKey) is stored with its
// generated secrets, as the param KeyParam of the pseudo-container
// KeyContainer: the underscore keeps it out of the stack's container names
// (stack.schema.json allows none), so it never collides with a real one.
const (
	KeyContainer = "lxcplan_stack"
	KeyParam     = "fingerprint-key"
	keyLength    = 64 // hex digits: 32 bytes
)

// ReadStackKey reads the stack's fingerprint key from the cluster through
// r (any node); nil when none is stored yet. The key is registered as a
// secret in reg before it is returned.
func ReadStackKey(ctx context.Context, r transport.Runner, stack string, reg *secrets.Registry, dir string) ([]byte, error) {
	st := &secrets.Store{Runner: r, Stack: stack, Redactor: reg, Dir: dir}
	v, ok, err := st.Get(ctx, KeyContainer, KeyParam)
	if err != nil || !ok {
		return nil, err
	}
	return decodeKey(stack, v)
}

func decodeKey(stack, v string) ([]byte, error) {
	k, err := hex.DecodeString(v)
	if err != nil || len(k) != keyLength/2 {
		return nil, fmt.Errorf("fingerprint key of stack %s: %w: want %d hex digits", stack, secrets.ErrMalformed, keyLength)
	}
	return k, nil
}

// ensureKey creates the stack's fingerprint key when none is stored, so
// the markers this run writes carry keyed fingerprints of secret values.
// It is journaled like a generated secret: a run that rolls back removes
// the key it made, and the cluster ends as it was.
func (r *run) ensureKey(ctx context.Context) error {
	if len(r.opts.SecretKey) > 0 || r.opts.DryRun || r.opts.NoStackKey {
		return nil
	}
	if v, ok := r.stored[KeyContainer][KeyParam]; ok {
		k, err := decodeKey(r.in.Plan.Stack, v)
		if err != nil {
			return err
		}
		r.opts.SecretKey = k
		return nil
	}
	dir := r.opts.SecretsDir
	if dir == "" {
		dir = secrets.DefaultDir
	}
	file := path.Join(dir, r.in.Plan.Stack, KeyContainer+"."+KeyParam)
	var v string
	do := func() error {
		var err error
		v, err = r.store.GetOrCreate(ctx, KeyContainer, KeyParam, secrets.Generate{Length: keyLength, Charset: secrets.CharsetHex})
		return err
	}
	var err error
	if r.readOnly {
		err = do() // a run without changes has no journal: nothing to undo
	} else {
		err = r.step(journal.Step{Host: r.storeHost(), ID: "secret/" + KeyParam, Description: "create the stack's fingerprint key",
			Undo: [][]string{{"sh", "-c", secretUndo, "sh", file}}}, do)
	}
	if err != nil {
		return fmt.Errorf("fingerprint key of stack %s: %w", r.in.Plan.Stack, err)
	}
	k, err := decodeKey(r.in.Plan.Stack, v)
	if err != nil {
		return err
	}
	r.opts.SecretKey = k
	return nil
}

// storeFor is the secret store of stack through r, with the run's registry.
func storeFor(r transport.Runner, stack string, o Options) *secrets.Store {
	reg := o.Secrets
	if reg == nil {
		reg = secrets.NewRegistry()
	}
	return &secrets.Store{Runner: r, Stack: stack, Redactor: reg, Dir: o.SecretsDir}
}
