package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PushImage pushes a minimal container image to ref (HOST:PORT/REPO:TAG)
// with oras over plain HTTP and returns its manifest digest: one gzip layer
// holding the file "hello.txt" with content, and an image config whose
// rootfs.diff_ids names the uncompressed layer, so that containerd can
// unpack it. Distinct contents give distinct digests. It works in dir.
func PushImage(ctx context.Context, orasBin, ref, dir string, content []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("e2e: %w", err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	hdr := &tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return "", fmt.Errorf("e2e: layer: %w", err)
	}
	if _, err := tw.Write(content); err != nil {
		return "", fmt.Errorf("e2e: layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("e2e: layer: %w", err)
	}
	diffID := sha256.Sum256(layer.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(layer.Bytes()); err != nil {
		return "", fmt.Errorf("e2e: layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("e2e: layer: %w", err)
	}
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}`, hex.EncodeToString(diffID[:]))
	for name, data := range map[string][]byte{"layer.tar.gz": gz.Bytes(), "config.json": []byte(config)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", fmt.Errorf("e2e: %w", err)
		}
	}
	env := append(baseEnv(), "DOCKER_CONFIG="+filepath.Join(dir, "docker-config"))
	if _, err := runOK(ctx, env, dir, orasBin, "push", "--plain-http", ref,
		"--config", "config.json:application/vnd.oci.image.config.v1+json",
		"layer.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip"); err != nil {
		return "", err
	}
	out, err := runOK(ctx, env, dir, orasBin, "resolve", "--plain-http", ref)
	if err != nil {
		return "", err
	}
	d := strings.TrimSpace(out)
	if !digestRE.MatchString(d) {
		return "", fmt.Errorf("e2e: oras resolve %s printed %q, want sha256:<64 hex>", ref, d)
	}
	return d, nil
}

// PushImageT is [PushImage] into a temporary folder that fails the test on
// error.
func PushImageT(t testing.TB, tools Tools, ref string, content []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := PushImage(ctx, tools.Oras, ref, t.TempDir(), content)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
