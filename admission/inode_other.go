//go:build !unix

package admission

import "io/fs"

// inode is 0 where there are no inode numbers.
func inode(fs.FileInfo) uint64 { return 0 }
