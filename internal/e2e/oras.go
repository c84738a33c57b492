package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ArtifactMediaType is the layer media type [Push] uploads content as.
const ArtifactMediaType = "application/vnd.test.file"

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Push writes content to dir/artifact.txt, uploads it with
// "oras push --plain-http ref artifact.txt:application/vnd.test.file" (run in
// dir) and returns the manifest digest that "oras resolve" reports
// ("sha256:..."). ref is "HOST:PORT/REPO:TAG". oras gets a docker config
// folder of its own under dir, so the user's credentials are never read.
func Push(ctx context.Context, orasBin, ref, dir string, content []byte) (digest string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("e2e: %w", err)
	}
	const name = "artifact.txt"
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
		return "", fmt.Errorf("e2e: writing artifact: %w", err)
	}
	env := append(baseEnv(), "DOCKER_CONFIG="+filepath.Join(dir, "docker-config"))
	if _, err := runOK(ctx, env, dir, orasBin, "push", "--plain-http", ref, name+":"+ArtifactMediaType); err != nil {
		return "", err
	}
	out, err := runOK(ctx, env, dir, orasBin, "resolve", "--plain-http", ref)
	if err != nil {
		return "", err
	}
	digest = strings.TrimSpace(out)
	if !digestRE.MatchString(digest) {
		return "", fmt.Errorf("e2e: oras resolve %s printed %q, want sha256:<64 hex>", ref, digest)
	}
	return digest, nil
}
