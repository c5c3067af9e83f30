// Package digest computes the pod template annotation that makes a
// Deployment roll out when a value it consumes changes.
//
// A plain hash of a short secret can be brute-forced offline by anyone who
// can read the Deployment, so the digest is an HMAC-SHA256 under a key that
// only the generated Secret holds: reading the annotation tells nothing about
// a value without also being able to read the Secret.
package digest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"

	"github.com/stax-dev/blueprint-operator/internal/reference"
)

// Lookup returns the value behind a resolved reference.
type Lookup func(reference.Ref) ([]byte, bool)

// Compute digests the values behind refs under key. It depends only on the
// set of references and their values: order and repetition do not matter,
// and neither does anything else in the Secrets they live in. It returns ""
// when refs is empty or a value cannot be looked up (the service is not
// rendered then anyway).
func Compute(key []byte, refs []reference.Ref, lookup Lookup) string {
	if len(refs) == 0 {
		return ""
	}
	unique := map[reference.Ref]bool{}
	for _, r := range refs {
		unique[r] = true
	}
	sorted := make([]reference.Ref, 0, len(unique))
	for r := range unique {
		sorted = append(sorted, r)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].SecretName != sorted[j].SecretName {
			return sorted[i].SecretName < sorted[j].SecretName
		}
		return sorted[i].Key < sorted[j].Key
	})
	mac := hmac.New(sha256.New, key)
	for _, r := range sorted {
		value, ok := lookup(r)
		if !ok {
			return ""
		}
		// Length prefixes keep ("ab","c") and ("a","bc") apart.
		for _, field := range [][]byte{[]byte(r.SecretName), []byte(r.Key), value} {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(field)))
			mac.Write(n[:])
			mac.Write(field)
		}
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// HookToken is the mark of the Job the operator creates for attempt of the
// onRotate hook of secret, of the Blueprint with UID blueprintUID: an
// HMAC-SHA256 under the generated Secret's digest key, so that nobody who
// cannot read that Secret can make a Job the operator takes for its own.
// Job names are predictable (render.HookJobName); this is not.
func HookToken(key []byte, blueprintUID, secret string, attempt int64) string {
	mac := hmac.New(sha256.New, key)
	for _, field := range [][]byte{[]byte("onRotate hook Job"), []byte(blueprintUID), []byte(secret)} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(field)))
		mac.Write(n[:])
		mac.Write(field)
	}
	var a [8]byte
	binary.BigEndian.PutUint64(a[:], uint64(attempt))
	mac.Write(a[:])
	return hex.EncodeToString(mac.Sum(nil))
}
