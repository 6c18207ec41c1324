// Package lock holds a stack's cluster-wide lock on pmxcfs, so that two runs
// of lxcplan (from any machines, against any nodes of one cluster) never
// change the same stack at once.
//
// # The protocol
//
// The lock is the directory /etc/pve/priv/lock/lxcplan-<stack>
// (pve-reference.md §14): pmxcfs lets exactly one mkdir of it succeed across
// the whole cluster, which an exclusively created file would not. Who holds it
// is written beside it, to /etc/pve/priv/lxcplan/_locks/<stack>.holder: §14
// does not promise that pmxcfs accepts plain files inside priv/lock, so the
// holder file lives in lxcplan's own private directory instead. The leading
// underscore keeps it apart from the per-stack secret directories
// (/etc/pve/priv/lxcplan/<stack>/): no stack name can start with one. It is written to a
// temporary name and renamed, because pmxcfs makes renames atomic but not
// truncating writes.
//
// While a run lasts, a goroutine refreshes the lock every 30 s by setting the
// directory's mtime to the host's current time (utime, which on pmxcfs is a
// "lock update request"), well within pmxcfs' 120 s expiry, and checks that
// the holder file still carries its token. A refresh that fails three times in a row, or
// a holder file that names someone else, closes [Lock.Lost]: the run must
// stop, because another run may already own the stack.
//
// # Expiry: what pmxcfs does and what lxcplan does
//
// pmxcfs drops a lock only when asked: a waiter sends an "unlock request"
// (utime 0 on the directory) and pmxcfs removes the directory if its own
// record of the last refresh is older than 120 s. lxcplan cannot see that
// record, so it judges expiry from the directory's mtime against the host's
// own clock (stat and date run in one command on the same host, so the clock
// of the machine running lxcplan does not matter). When the mtime is older than
// [Expiry], the waiter removes the stale holder file, sends the pmxcfs unlock
// request, and rmdirs the directory in case pmxcfs did not (the lab's
// /etc/pve is a plain directory, where locks never expire by themselves). The
// unlock request is sent only for a lock already judged expired, because on a
// plain directory it would set a live lock's mtime to 1970. The check and the
// removal run in one shell command that re-reads the mtime first, so a lock
// that was refreshed or re-taken in between is left alone.
package lock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// Defaults and pmxcfs facts (§14).
const (
	// DefaultDir is where pmxcfs keeps cluster-wide lock directories.
	DefaultDir = "/etc/pve/priv/lock"
	// DefaultHolderDir is where holder files go (root-only, like all of
	// priv). Stack names start with [a-z0-9], so "_locks" is never a stack's
	// secret directory.
	DefaultHolderDir = "/etc/pve/priv/lxcplan/_locks"
	// Expiry is pmxcfs' lock lifetime without a refresh.
	Expiry = 120 * time.Second
	// DefaultTimeout is how long [Acquire] waits for a held lock (--lock-timeout).
	DefaultTimeout = 30 * time.Second
	// DefaultRefresh is the refresh interval: a quarter of [Expiry], so that
	// three failed refreshes in a row still end before the lock expires.
	DefaultRefresh = 30 * time.Second
	// DefaultPoll is the longest wait between two attempts; the back-off
	// starts at a quarter of it.
	DefaultPoll = time.Second

	// commandTimeout bounds each lock command, so a hung connection cannot
	// hold up Release or the refresh loop for long.
	commandTimeout = 20 * time.Second
	// maxRefreshFailures failed refreshes in a row mean the lock is lost.
	maxRefreshFailures = 3
	// dirPrefix namespaces lxcplan's locks among pmxcfs' other users (HA,
	// replication, storage).
	dirPrefix = "lxcplan-"
)

// Error classes; branch with errors.Is.
var (
	// ErrLocked: another run holds the stack's lock (see [LockedError]).
	ErrLocked = errors.New("stack is locked")
	// ErrNotLocked: [Unlock] found no lock to remove.
	ErrNotLocked = errors.New("stack is not locked")
	// ErrLost: the lock was removed or taken over while this run held it, or
	// could not be refreshed; the run must stop.
	ErrLost = errors.New("stack lock lost")
	// ErrInvalidStack: the stack name cannot name a lock.
	ErrInvalidStack = errors.New("invalid stack name")
)

// LockedError reports a stack locked by another run. It wraps [ErrLocked].
type LockedError struct {
	Stack string
	// Holder is nil when the holder file was missing or unreadable.
	Holder *Holder
}

func (e *LockedError) Error() string {
	who := "an unknown holder (no readable holder file)"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	return fmt.Sprintf("stack %q is locked by %s; wait, or run 'lxcplan unlock %s' if that run is gone", e.Stack, who, e.Stack)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// stackRe is the stack name syntax (stack.schema.json). Names are checked
// again here because they become path components on the host.
var stackRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Paths says where locks and holder files live. The zero value means the
// pmxcfs defaults; tests and the lab may point elsewhere.
type Paths struct {
	// Dir holds lock directories (default [DefaultDir]).
	Dir string
	// HolderDir holds holder files (default [DefaultHolderDir]).
	HolderDir string
}

type stackPaths struct{ dir, holderDir, holder string }

func (p Paths) forStack(stack string) (stackPaths, error) {
	if !stackRe.MatchString(stack) {
		return stackPaths{}, fmt.Errorf("%w: %q", ErrInvalidStack, stack)
	}
	d, hd := p.Dir, p.HolderDir
	if d == "" {
		d = DefaultDir
	}
	if hd == "" {
		hd = DefaultHolderDir
	}
	return stackPaths{
		dir:       path.Join(d, dirPrefix+stack),
		holderDir: hd,
		holder:    path.Join(hd, stack+".holder"),
	}, nil
}

// Options tune [Acquire]. The zero value waits [DefaultTimeout] and refreshes
// every [DefaultRefresh].
type Options struct {
	Paths
	// Timeout is how long to wait for a held lock; 0 means [DefaultTimeout],
	// negative means try once.
	Timeout time.Duration
	// Refresh is the refresh interval (0: [DefaultRefresh]). Keep it well
	// under [Expiry]/3.
	Refresh time.Duration
	// Poll is the longest wait between attempts (0: [DefaultPoll]).
	Poll time.Duration
	// Holder is written to the holder file; see [CurrentHolder], which is
	// also used when User, Host and PID are all empty. An empty Token is
	// filled with a random one, a zero Start with Now().
	Holder Holder
	// OnWait, if set, is called once when the lock is found held and Acquire
	// starts waiting (holder nil when unknown), so the caller can say why
	// nothing happens.
	OnWait func(holder *Holder)
	// Now and Sleep replace the clock in tests. Sleep must return early with
	// ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Lock is a held stack lock. Release it when the run ends (including after
// rollback); watch [Lock.Lost] while the run lasts.
type Lock struct {
	r      transport.Runner
	stack  string
	p      stackPaths
	holder Holder
	opts   Options

	stop     context.CancelFunc // ends the refresh loop
	done     chan struct{}      // closed when the refresh loop has returned
	lost     chan struct{}
	mu       sync.Mutex
	lostErr  error
	released bool
}

// Holder returns what this lock wrote to its holder file.
func (l *Lock) Holder() Holder { return l.holder }

// Lost is closed when the lock can no longer be trusted: removed by
// `lxcplan unlock`, taken over after it expired, or not refreshed three
// times in a row. The run must stop starting new work; [Lock.Err] says why.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns why the lock was lost (wrapping [ErrLost]), or nil.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

func (l *Lock) markLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr == nil {
		l.lostErr = err
		close(l.lost)
	}
}

// Acquire takes the lock of stack through r (any node of the cluster), waiting
// up to opts.Timeout while another run holds it. A lock whose directory was
// not refreshed for [Expiry] is removed and taken over. On timeout the error
// is a [*LockedError] naming the holder.
//
// The refresh loop runs until [Lock.Release] and does not stop when ctx is
// cancelled: the lock must outlive a Ctrl-C so that rollback runs under it.
func Acquire(ctx context.Context, r transport.Runner, stack string, opts Options) (*Lock, error) {
	o := opts.withDefaults()
	p, err := o.Paths.forStack(stack)
	if err != nil {
		return nil, fmt.Errorf("take lock: %w", err)
	}
	h := o.Holder
	if h.User == "" && h.Host == "" && h.PID == 0 {
		h = CurrentHolder(h.Version, h.Command)
	}
	if h.Token == "" {
		h.Token = newToken()
	}
	if h.Start.IsZero() {
		h.Start = o.Now().UTC().Truncate(time.Second)
	}
	deadline := o.Now().Add(o.Timeout)
	wait := max(o.Poll/4, time.Millisecond)
	notified := false
	misses, steals := 0, 0
	for {
		_, err := r.Run(ctx, transport.Command{Argv: []string{"mkdir", p.dir}})
		if err == nil {
			return start(ctx, r, stack, p, h, o)
		}
		if !errors.Is(err, transport.ErrCommandFailed) {
			return nil, fmt.Errorf("take lock of stack %q: %w", stack, err)
		}
		// mkdir failed. Whether that means "held" is decided by looking, not
		// by parsing mkdir's (localised) message.
		st, ierr := inspect(ctx, r, p)
		if ierr != nil {
			return nil, fmt.Errorf("take lock of stack %q: %w", stack, ierr)
		}
		if !st.locked {
			// Released in between, or mkdir fails for another reason (no
			// quorum, missing priv/lock): retry at once, then give up with
			// mkdir's own error.
			if misses++; misses >= 3 {
				return nil, fmt.Errorf("take lock of stack %q: %w", stack, err)
			}
			continue
		}
		misses = 0
		if st.expired() && steals < 3 {
			steals++
			if err := steal(ctx, r, p, st.mtime); err != nil {
				return nil, fmt.Errorf("take over expired lock of stack %q: %w", stack, err)
			}
			continue
		}
		now := o.Now()
		if o.Timeout < 0 || !now.Before(deadline) {
			return nil, &LockedError{Stack: stack, Holder: st.holder}
		}
		if !notified && o.OnWait != nil {
			notified = true
			o.OnWait(st.holder)
		}
		if err := o.Sleep(ctx, min(wait, deadline.Sub(now))); err != nil {
			return nil, fmt.Errorf("wait for lock of stack %q: %w", stack, err)
		}
		wait = min(wait*2, o.Poll)
	}
}

// start writes the holder file of a freshly made lock directory and starts
// the refresh loop. If the holder file cannot be written the lock is given
// back: a lock nobody can attribute would only confuse the next run.
func start(ctx context.Context, r transport.Runner, stack string, p stackPaths, h Holder, o Options) (*Lock, error) {
	bg := context.WithoutCancel(ctx)
	wctx, cancel := context.WithTimeout(bg, commandTimeout)
	defer cancel()
	_, err := r.Run(wctx, transport.Command{
		// A constant script; the paths come in as positional parameters.
		Argv:  []string{"sh", "-c", writeHolderScript, "sh", p.holderDir, p.holder},
		Stdin: bytes.NewReader(h.encode()),
	})
	if err != nil {
		_, _ = r.Run(wctx, transport.Command{Argv: []string{"rmdir", p.dir}})
		return nil, fmt.Errorf("take lock of stack %q: write holder file: %w", stack, err)
	}
	sctx, stop := context.WithCancel(bg)
	l := &Lock{r: r, stack: stack, p: p, holder: h, opts: o, stop: stop, done: make(chan struct{}), lost: make(chan struct{})}
	go l.refreshLoop(sctx)
	return l, nil
}

// writeHolderScript writes stdin to $2 (creating directory $1) through a
// temporary file and a rename: pmxcfs makes renames atomic, not truncating
// writes. umask keeps it root-only on a plain directory too.
const writeHolderScript = `umask 077
mkdir -p -- "$1" && cat > "$2.tmp" && mv -f -- "$2.tmp" "$2"`

func (l *Lock) refreshLoop(ctx context.Context) {
	defer close(l.done)
	failures := 0
	interval := l.opts.Refresh
	for {
		if err := l.opts.Sleep(ctx, interval); err != nil {
			return // released
		}
		err := l.refresh(ctx)
		switch {
		case err == nil:
			failures, interval = 0, l.opts.Refresh
		case ctx.Err() != nil:
			return // released while refreshing
		case errors.Is(err, ErrLost):
			l.markLost(err)
			return
		default:
			failures++
			if failures >= maxRefreshFailures {
				l.markLost(fmt.Errorf("%w: stack %q: %d refreshes failed in a row: %w", ErrLost, l.stack, failures, err))
				return
			}
			// Retry sooner, so that three failures still end well before
			// pmxcfs lets the lock expire.
			interval = max(l.opts.Refresh/3, time.Millisecond)
		}
	}
}

// refreshScript sets lock directory $1's mtime to the host's "now" and
// prints holder file $2; exit 3 when either is gone. The time is given
// explicitly, as PVE's own lock holders do (utime(0, time(), dir)): a bare
// touch asks for UTIME_NOW, which a FUSE filesystem may see as time 0 —
// pmxcfs' unlock request. -c: a removed lock must stay removed.
const refreshScript = `test -d "$1" || exit 3
touch -c -d "@$(date +%s)" -- "$1" || exit 1
cat -- "$2" 2>/dev/null || exit 3`

// refresh is a pmxcfs lock update request plus a check that the holder file
// still carries our token.
func (l *Lock) refresh(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	res, err := l.r.Run(cctx, transport.Command{
		// A constant script; the paths come in as positional parameters.
		Argv: []string{"sh", "-c", refreshScript, "sh", l.p.dir, l.p.holder},
	})
	var ee *transport.ExitError
	if errors.As(err, &ee) && ee.Code == 3 {
		return fmt.Errorf("%w: stack %q: the lock was removed (e.g. by 'lxcplan unlock')", ErrLost, l.stack)
	}
	if err != nil {
		return fmt.Errorf("refresh lock of stack %q: %w", l.stack, err)
	}
	return l.sameToken(res.Stdout)
}

func (l *Lock) sameToken(holderFile []byte) error {
	h, ok := decodeHolder(holderFile)
	if !ok {
		return fmt.Errorf("%w: stack %q: holder file %s is unreadable", ErrLost, l.stack, l.p.holder)
	}
	if h.Token != l.holder.Token {
		return fmt.Errorf("%w: stack %q is now held by %s", ErrLost, l.stack, h)
	}
	return nil
}

// checkToken reads the holder file: ErrLost when it is gone or names another
// acquisition, a plain error when the host could not be asked.
func (l *Lock) checkToken(ctx context.Context) error {
	res, err := l.r.Run(ctx, transport.Command{Argv: []string{"cat", l.p.holder}, ReadOnly: true})
	if err != nil {
		if errors.Is(err, transport.ErrCommandFailed) {
			return fmt.Errorf("%w: stack %q: holder file %s is gone (lock removed, e.g. by 'lxcplan unlock')", ErrLost, l.stack, l.p.holder)
		}
		return fmt.Errorf("read holder of stack %q: %w", l.stack, err)
	}
	return l.sameToken(res.Stdout)
}

// Release stops the refresh loop and removes the lock. It runs even when ctx
// is already cancelled (a Ctrl-C must not leave the lock behind), bounded by
// a timeout. A lost lock is left alone, since it may be someone else's now,
// and Release returns the reason it was lost. Calling Release again is a
// no-op.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	l.stop()
	<-l.done
	if err := l.Err(); err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commandTimeout)
	defer cancel()
	if err := l.checkToken(cctx); err != nil {
		if errors.Is(err, ErrLost) {
			l.markLost(err)
		}
		return fmt.Errorf("release lock: %w", err)
	}
	// Holder file first: once the directory is gone, the next holder may
	// write its own holder file at once.
	if _, err := l.r.Run(cctx, transport.Command{Argv: []string{"rm", "-f", l.p.holder}}); err != nil {
		return fmt.Errorf("release lock of stack %q: %w", l.stack, err)
	}
	if _, err := l.r.Run(cctx, transport.Command{Argv: []string{"rmdir", l.p.dir}}); err != nil {
		return fmt.Errorf("release lock of stack %q: %w", l.stack, err)
	}
	return nil
}

// state is what one inspect command saw.
type state struct {
	locked bool
	// mtime and now are the lock directory's mtime and the host's clock,
	// in Unix seconds.
	mtime, now int64
	holder     *Holder
}

func (s state) expired() bool { return s.locked && s.now-s.mtime > int64(Expiry/time.Second) }

// inspectScript prints "MTIME NOW" and the holder file, or exits 3 when there
// is no lock. $1: lock directory, $2: holder file.
const inspectScript = `test -d "$1" || exit 3
m=$(stat -c %Y -- "$1") || exit 1
printf '%s %s\n' "$m" "$(date +%s)"
cat -- "$2" 2>/dev/null
exit 0`

func inspect(ctx context.Context, r transport.Runner, p stackPaths) (state, error) {
	res, err := r.Run(ctx, transport.Command{
		// A constant script; the paths come in as positional parameters.
		Argv:     []string{"sh", "-c", inspectScript, "sh", p.dir, p.holder},
		ReadOnly: true,
	})
	var ee *transport.ExitError
	if errors.As(err, &ee) && ee.Code == 3 {
		return state{}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("inspect lock %s: %w", p.dir, err)
	}
	first, rest, _ := strings.Cut(string(res.Stdout), "\n")
	f := strings.Fields(first)
	if len(f) != 2 {
		return state{}, fmt.Errorf("inspect lock %s: unexpected output %q", p.dir, first)
	}
	m, err1 := strconv.ParseInt(f[0], 10, 64)
	n, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return state{}, fmt.Errorf("inspect lock %s: unexpected output %q", p.dir, first)
	}
	st := state{locked: true, mtime: m, now: n}
	if h, ok := decodeHolder([]byte(rest)); ok {
		h.Refreshed = time.Unix(m, 0).UTC()
		st.holder = &h
	}
	return st, nil
}

// stealScript removes an expired lock if it is still the one we judged
// expired (same mtime): holder file first, then the pmxcfs unlock request,
// then rmdir for filesystems where the request does nothing. Exit 3: the lock
// was refreshed or re-taken meanwhile. $1: lock directory, $2: holder file,
// $3: the mtime seen.
const stealScript = `test -d "$1" || exit 0
m=$(stat -c %Y -- "$1") || exit 1
test "$m" = "$3" || exit 3
rm -f -- "$2"
touch -c -d @0 -- "$1" 2>/dev/null
rmdir -- "$1" 2>/dev/null || test ! -d "$1"`

func steal(ctx context.Context, r transport.Runner, p stackPaths, mtime int64) error {
	_, err := r.Run(ctx, transport.Command{
		// A constant script; the paths come in as positional parameters.
		Argv: []string{"sh", "-c", stealScript, "sh", p.dir, p.holder, strconv.FormatInt(mtime, 10)},
	})
	var ee *transport.ExitError
	if errors.As(err, &ee) && ee.Code == 3 {
		return nil // refreshed meanwhile: the caller looks again
	}
	return err
}

// Inspect reports whether stack is locked and, if the holder file is
// readable, by whom (holder nil otherwise). Holder.Refreshed carries the lock
// directory's mtime.
func Inspect(ctx context.Context, r transport.Runner, stack string) (*Holder, bool, error) {
	return Paths{}.Inspect(ctx, r, stack)
}

// Inspect is [Inspect] under p.
func (p Paths) Inspect(ctx context.Context, r transport.Runner, stack string) (*Holder, bool, error) {
	sp, err := p.forStack(stack)
	if err != nil {
		return nil, false, fmt.Errorf("inspect lock: %w", err)
	}
	st, err := inspect(ctx, r, sp)
	if err != nil {
		return nil, false, err
	}
	return st.holder, st.locked, nil
}

// Unlock removes stack's lock whatever its age, for `lxcplan unlock` after a
// run died, and returns who held it (zero Holder when unknown). It fails with
// [ErrNotLocked] when there is no lock. A run that still holds the lock sees
// it gone at its next refresh and stops ([Lock.Lost]).
func Unlock(ctx context.Context, r transport.Runner, stack string) (Holder, error) {
	return Paths{}.Unlock(ctx, r, stack)
}

// Unlock is [Unlock] under p.
func (p Paths) Unlock(ctx context.Context, r transport.Runner, stack string) (Holder, error) {
	sp, err := p.forStack(stack)
	if err != nil {
		return Holder{}, fmt.Errorf("unlock: %w", err)
	}
	st, err := inspect(ctx, r, sp)
	if err != nil {
		return Holder{}, fmt.Errorf("unlock stack %q: %w", stack, err)
	}
	if !st.locked {
		return Holder{}, fmt.Errorf("unlock stack %q: %w", stack, ErrNotLocked)
	}
	var h Holder
	if st.holder != nil {
		h = *st.holder
	}
	if _, err := r.Run(ctx, transport.Command{Argv: []string{"rm", "-f", sp.holder}}); err != nil {
		return h, fmt.Errorf("unlock stack %q: %w", stack, err)
	}
	if _, err := r.Run(ctx, transport.Command{Argv: []string{"rmdir", sp.dir}}); err != nil {
		return h, fmt.Errorf("unlock stack %q: %w", stack, err)
	}
	return h, nil
}
