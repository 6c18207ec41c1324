package sshtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Coreutils answers the few plain utilities the SSH transport itself runs
// around uploads, against fs: "mktemp -d", "sha256sum [--] FILE",
// "stat -c %s [--] FILE", "rm -rf [--] PATH..." and "cat [--] FILE".
// Everything else (and anything it cannot parse) goes to next.
func Coreutils(fs *MemFS, next Handler) Handler {
	return HandlerFunc(func(ctx context.Context, cmdline string, stdin io.Reader, stdout, stderr io.Writer) int {
		argv, err := SplitCommand(cmdline)
		if err != nil || len(argv) == 0 {
			return next.Exec(ctx, cmdline, stdin, stdout, stderr)
		}
		args := dropDashDash(argv[1:])
		switch {
		case argv[0] == "mktemp" && len(args) == 1 && args[0] == "-d":
			p, err := fs.MkdirTemp("/tmp")
			if err != nil {
				fmt.Fprintf(stderr, "mktemp: %v\n", err)
				return 1
			}
			fmt.Fprintln(stdout, p)
			return 0
		case argv[0] == "sha256sum" && len(args) == 1:
			f, ok := fs.ReadFile(args[0])
			if !ok {
				fmt.Fprintf(stderr, "sha256sum: %s: No such file or directory\n", args[0])
				return 1
			}
			sum := sha256.Sum256(f.Data)
			fmt.Fprintf(stdout, "%s  %s\n", hex.EncodeToString(sum[:]), args[0])
			return 0
		case argv[0] == "stat" && len(args) == 3 && args[0] == "-c" && args[1] == "%s":
			f, ok := fs.ReadFile(args[2])
			if !ok {
				fmt.Fprintf(stderr, "stat: cannot statx '%s': No such file or directory\n", args[2])
				return 1
			}
			fmt.Fprintln(stdout, len(f.Data))
			return 0
		case argv[0] == "cat" && len(args) == 1:
			f, ok := fs.ReadFile(args[0])
			if !ok {
				fmt.Fprintf(stderr, "cat: %s: No such file or directory\n", args[0])
				return 1
			}
			_, _ = stdout.Write(f.Data)
			return 0
		case argv[0] == "rm" && len(args) >= 1 && args[0] == "-rf":
			for _, p := range args[1:] {
				if p != "--" {
					fs.RemoveAll(p)
				}
			}
			return 0
		}
		return next.Exec(ctx, cmdline, stdin, stdout, stderr)
	})
}

// dropDashDash removes a "--" end-of-options marker (the transport always
// writes one before paths).
func dropDashDash(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		out = append(out, a)
	}
	return out
}
