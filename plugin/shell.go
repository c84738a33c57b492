package plugin

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// chownCommand is the command that gives path to uid: plain chown for root,
// through sudo for anyone else (only root may give a file away). The path
// is quoted with shellQuote (doctor.go), so it runs exactly as printed.
func chownCommand(uid int, path string) string {
	c := fmt.Sprintf("chown %d %s", uid, shellQuote(path))
	if os.Geteuid() != 0 {
		c = "sudo " + c
	}
	return c
}

// userName is the login name of uid, or "" when it has none.
func userName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return ""
	}
	return u.Username
}
