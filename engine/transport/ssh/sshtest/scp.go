package sshtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
)

// scpSink serves "scp [-q] -t PATH" (what go-scp and OpenSSH's scp send to
// upload one file): it acks, reads "C<mode> <size> <name>\n", acks, reads the
// body and its trailing NUL, acks, and repeats until EOF. Files land in fs.
func scpSink(ctx context.Context, fs *MemFS, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	target, sink := "", false
	for _, a := range argv[1:] {
		switch {
		case strings.HasPrefix(a, "-"):
			if strings.Contains(a, "t") {
				sink = true
			}
		default:
			target = a
		}
	}
	fail := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(stdout, "\x02scp: %s\n", msg)
		fmt.Fprintf(stderr, "scp: %s\n", msg)
		return 1
	}
	if !sink || target == "" {
		return fail("sshtest supports only uploads (scp -t PATH)")
	}
	ack := func() { _, _ = stdout.Write([]byte{0}) }
	r := bufio.NewReader(stdin)
	ack()
	for {
		if ctx.Err() != nil {
			return 130
		}
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return 0
		}
		if err != nil {
			return fail("read header: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return fail("empty header")
		}
		switch line[0] {
		case 'T': // times: accepted and ignored
			ack()
			continue
		case 'C':
		default:
			return fail("unsupported scp message %q", line)
		}
		f := strings.SplitN(line[1:], " ", 3)
		if len(f) != 3 {
			return fail("bad header %q", line)
		}
		mode, err1 := strconv.ParseUint(f[0], 8, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || size < 0 || strings.Contains(f[2], "/") {
			return fail("bad header %q", line)
		}
		dest := target
		if fs.IsDir(target) {
			dest = path.Join(target, f[2])
		} else if dir := path.Dir(target); !fs.IsDir(dir) {
			return fail("%s: No such file or directory", target)
		}
		ack()
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return fail("read body: %v", err)
		}
		if b, err := r.ReadByte(); err != nil || b != 0 {
			return fail("missing end of file marker")
		}
		if err := fs.WriteFile(dest, data, os.FileMode(mode)); err != nil {
			return fail("%v", err)
		}
		ack()
	}
}
