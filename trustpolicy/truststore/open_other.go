//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package truststore

// openFlags: no extra flags on this platform; the entry type from the folder
// listing is checked before a file is opened.
const openFlags = 0
