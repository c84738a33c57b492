package trustpolicy

import "regexp"

// semverPattern is the regular expression semver.org suggests, which
// notation-go uses to validate io.cncf.notary.verificationPluginMinVersion.
var semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// validSemver reports whether v is a semantic version without a "v" prefix.
func validSemver(v string) bool { return semverPattern.MatchString(v) }
