//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package truststore

import "syscall"

// openFlags: do not follow a final symlink, do not block on a named pipe.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
