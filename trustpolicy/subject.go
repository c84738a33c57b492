package trustpolicy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Errors of CheckSubject.
var (
	// ErrInvalidDescriptor: the artifact descriptor has no media type, an
	// invalid, unsupported or all-zero digest, or a negative size.
	ErrInvalidDescriptor = errors.New("invalid artifact descriptor")
	// ErrSubjectMismatch: the reference names one digest and the descriptor
	// another (*SubjectMismatchError).
	ErrSubjectMismatch = errors.New("reference and descriptor name different artifacts")
)

// SubjectMismatchError is a reference REPO@DIGEST whose digest is not the
// descriptor's: verifying the descriptor would vouch for another artifact
// than the one the reference names.
type SubjectMismatchError struct {
	// Reference is the reference as given.
	Reference string
	// ReferenceDigest is the digest the reference names.
	ReferenceDigest digest.Digest
	// DescriptorDigest is the digest of the descriptor that would be
	// verified.
	DescriptorDigest digest.Digest
}

func (e *SubjectMismatchError) Error() string {
	return fmt.Sprintf("reference %q names digest %s, but the descriptor has digest %s (notation: user input digest %s does not match the resolved digest %s); give the descriptor of the artifact the reference names, or the reference of the artifact the descriptor describes",
		e.Reference, e.ReferenceDigest, e.DescriptorDigest, e.ReferenceDigest, e.DescriptorDigest)
}

// Is makes errors.Is(err, ErrSubjectMismatch) true.
func (e *SubjectMismatchError) Is(target error) bool { return target == ErrSubjectMismatch }

// ValidateDescriptor checks what verification relies on in an artifact
// descriptor: a media type, a digest that go-digest accepts (a registered
// algorithm, the right length, lower-case hex) and that is not all zeros
// (a placeholder no content hashes to), and a size that is not negative.
// Errors wrap ErrInvalidDescriptor.
func ValidateDescriptor(desc ocispec.Descriptor) error {
	switch {
	case strings.TrimSpace(desc.MediaType) == "":
		return fmt.Errorf("%w: mediaType is missing or empty", ErrInvalidDescriptor)
	case desc.Digest == "":
		return fmt.Errorf("%w: digest is missing or empty", ErrInvalidDescriptor)
	case desc.Size < 0:
		return fmt.Errorf("%w: size %d is negative", ErrInvalidDescriptor, desc.Size)
	}
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: digest %q: %v", ErrInvalidDescriptor, desc.Digest, err)
	}
	if strings.Trim(desc.Digest.Encoded(), "0") == "" {
		return fmt.Errorf("%w: digest %s is all zeros, a placeholder rather than the digest of any content", ErrInvalidDescriptor, desc.Digest)
	}
	return nil
}

// CheckSubject checks that a reference and the artifact descriptor that
// arrived with it describe the same artifact, as notation does when it
// resolves a reference: the descriptor must be valid (ValidateDescriptor)
// and, when the reference names a digest (REPO@DIGEST or REPO:TAG@DIGEST),
// that digest must be the descriptor's, else the error is a
// *SubjectMismatchError naming both. A reference by tag (REPO:TAG) names no
// digest: the descriptor is what the tag resolved to, and its digest is
// what gets verified (see SubjectReference). A digest that does not parse
// gives an error wrapping ErrInvalidReference.
//
// Engine.Evaluate does not compare Input.Reference with Input.Descriptor,
// exactly as notation-go's verifier does not: every caller that receives
// both from outside must call CheckSubject first.
func CheckSubject(reference string, desc ocispec.Descriptor) error {
	if err := ValidateDescriptor(desc); err != nil {
		return err
	}
	_, _, dgst, err := splitReference(reference)
	if err != nil {
		return err
	}
	if dgst != "" && dgst != desc.Digest {
		return &SubjectMismatchError{Reference: reference, ReferenceDigest: dgst, DescriptorDigest: desc.Digest}
	}
	return nil
}

// SubjectReference checks reference and desc with CheckSubject and returns
// the reference that is verified, REPO@DIGEST with the descriptor's digest,
// and the tag when reference named a tag and no digest (tags are mutable:
// say that the digest, not the tag, was verified).
func SubjectReference(reference string, desc ocispec.Descriptor) (digestRef, tag string, err error) {
	if err := CheckSubject(reference, desc); err != nil {
		return "", "", err
	}
	repo, tag, dgst, err := splitReference(reference)
	if err != nil {
		return "", "", err
	}
	if dgst != "" {
		tag = ""
	} else if tag == "" {
		return "", "", fmt.Errorf("%w %q: it names neither a tag nor a digest; give REGISTRY/REPOSITORY@DIGEST (or REGISTRY/REPOSITORY:TAG)", ErrInvalidReference, reference)
	}
	return repo + "@" + desc.Digest.String(), tag, nil
}

// splitReference splits REPO[:TAG][@DIGEST]. The repository is not
// validated here (Policy.Select does that); the digest must parse.
func splitReference(reference string) (repo, tag string, dgst digest.Digest, err error) {
	name := reference
	if at := strings.LastIndexByte(reference, '@'); at >= 0 {
		name = reference[:at]
		d := digest.Digest(reference[at+1:])
		if verr := d.Validate(); verr != nil {
			return "", "", "", fmt.Errorf("%w %q: digest %q: %v", ErrInvalidReference, reference, d, verr)
		}
		dgst = d
	}
	repo = name
	slash := strings.LastIndexByte(name, '/')
	if colon := strings.LastIndexByte(name, ':'); colon > slash {
		repo, tag = name[:colon], name[colon+1:]
		if !validTag(tag) {
			return "", "", "", fmt.Errorf("%w %q: tag %q is not a valid tag (1 to 128 of a-z, A-Z, 0-9, '_', '.' and '-', not starting with '.' or '-')", ErrInvalidReference, reference, tag)
		}
	}
	return repo, tag, dgst, nil
}

// validTag is the OCI distribution tag rule [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isASCIIAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
