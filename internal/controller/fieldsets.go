package controller

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/stax-dev/blueprint-operator/internal/applied"
)

// How the cache keeps the field set of our managedFields entry of each
// rendered object: the one part of the object it keeps whole (drift is
// decided from it, internal/applied), about a kilobyte of JSON per object,
// most of it the same field names over and over. It is kept deflated, with
// a dictionary of those names, and shared between objects of the same
// shape; fieldSetOf gives the JSON back. Wrapped as JSON
// ({"stax.dev/deflated": base64}), so the cached object still encodes.

// deflatedKey names the compressed form inside FieldsV1.
const deflatedKey = "stax.dev/deflated"

// fieldSetDictionary is what field sets of rendered objects say most: the
// compressor finds it instead of spelling it out in each.
var fieldSetDictionary = []byte(`{"f:metadata":{"f:annotations":{"f:stax.dev/rendered-fingerprint":{}},"f:labels":{"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{},"f:stax.dev/blueprint":{},"f:stax.dev/service":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:annotations":{"f:stax.dev/secrets-digest":{}},"f:labels":{"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{},"f:stax.dev/blueprint":{},"f:stax.dev/service":{}}},"f:spec":{"f:automountServiceAccountToken":{},"f:containers":{"k:{\"name\":\"\"}":{".":{},"f:env":{"k:{\"name\":\"\"}":{".":{},"f:name":{},"f:value":{},"f:valueFrom":{"f:secretKeyRef":{}}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{},"f:resources":{},"f:securityContext":{"f:allowPrivilegeEscalation":{},"f:capabilities":{"f:drop":{}},"f:readOnlyRootFilesystem":{}},"f:volumeMounts":{"k:{\"mountPath\":\"/tmp\"}":{".":{},"f:mountPath":{},"f:name":{}}}}},"f:securityContext":{"f:runAsNonRoot":{},"f:seccompProfile":{"f:type":{}}},"f:volumes":{"k:{\"name\":\"tmp\"}":{".":{},"f:emptyDir":{},"f:name":{}}}}}},"f:ports":{"k:{\"port\":,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:type":{}}}`)

var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriterDict(io.Discard, flate.BestCompression, fieldSetDictionary)
	if err != nil {
		panic(err) // a constant level: cannot fail
	}
	return w
}}

// deflated wraps raw, a field set's JSON, in its compressed form.
func deflated(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{deflatedKey: base64.StdEncoding.EncodeToString(buf.Bytes())})
}

func isDeflated(raw []byte) bool {
	return bytes.HasPrefix(raw, []byte(`{"`+deflatedKey+`":`))
}

// fieldSetOf is the field set's JSON of entry, whether the cache deflated
// it or not; nil if it has none or cannot be read.
func fieldSetOf(entry metav1.ManagedFieldsEntry) []byte {
	if entry.FieldsV1 == nil {
		return nil
	}
	raw := entry.FieldsV1.GetRawBytes()
	if !isDeflated(raw) {
		return raw
	}
	var wrapped map[string]string
	if json.Unmarshal(raw, &wrapped) != nil {
		return nil
	}
	compressed, err := base64.StdEncoding.DecodeString(wrapped[deflatedKey])
	if err != nil {
		return nil
	}
	r := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(r)
	if r.(flate.Resetter).Reset(bytes.NewReader(compressed), fieldSetDictionary) != nil {
		return nil
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil
	}
	return out
}

// inflaters reuses decompressors: each holds a 32 KiB window, and every
// up-to-date check of a rendered object inflates its field set.
var inflaters = sync.Pool{New: func() any {
	return flate.NewReaderDict(bytes.NewReader(nil), fieldSetDictionary)
}}

// fieldSets shares field sets between cached objects: at most
// maxSharedFieldSets distinct ones are kept, the rest are each object's
// own.
var fieldSets = &fieldSetTable{sets: map[[sha256.Size]byte]*metav1.FieldsV1{}}

const maxSharedFieldSets = 4096

// fieldSetTable is keyed by the SHA-256 of a field set's JSON, not the JSON
// itself: sets differ between objects as soon as a list key does (a
// container named after its service), so the table is often full, and
// 4,096 kilobyte-long keys held 6 MiB.
type fieldSetTable struct {
	mu   sync.Mutex
	sets map[[sha256.Size]byte]*metav1.FieldsV1
}

// of is fields without its ownerReferences part, and without what obj no
// longer has (applied.Present), deflated, and shared with every other
// object of the same.
func (t *fieldSetTable) of(fields *metav1.FieldsV1, obj value.Value) (*metav1.FieldsV1, error) {
	if fields == nil || isDeflated(fields.GetRawBytes()) {
		// Transformed already (transforms must be idempotent): kept.
		return fields, nil
	}
	trimmed, err := presentFields(fields.GetRawBytes(), obj)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(trimmed)
	t.mu.Lock()
	shared, ok := t.sets[key]
	t.mu.Unlock()
	if ok {
		return shared, nil
	}
	compact, err := deflated(trimmed)
	if err != nil {
		return nil, err
	}
	out := metav1.NewFieldsV1(string(compact))
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.sets) < maxSharedFieldSets {
		t.sets[key] = out
	}
	return out, nil
}

// presentFields is the field set raw without f:metadata.f:ownerReferences,
// which names the owner's uid and so differs from object to object (the
// reference itself is kept on the object, and compared by value), and
// without what obj does not have (applied.Present).
func presentFields(raw []byte, obj value.Value) ([]byte, error) {
	set := &fieldpath.Set{}
	if err := set.FromJSON(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return applied.Present(set.RecursiveDifference(ownerReferences), obj).ToJSON()
}

// ownerReferences is the part of a field set presentFields leaves out.
var ownerReferences = fieldpath.NewSet(fieldpath.MakePathOrDie("metadata", "ownerReferences"))
