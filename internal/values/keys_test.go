package values

import (
	"crypto/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	staxv1alpha1 "github.com/stax-dev/blueprint-operator/api/v1alpha1"
	"github.com/stax-dev/blueprint-operator/internal/observe"
	"github.com/stax-dev/blueprint-operator/internal/render"
	"github.com/stax-dev/blueprint-operator/internal/secretgen"
)

const validFor = 90 * time.Hour

func typed(name string, t staxv1alpha1.SecretType) render.ManagedSecret {
	m := render.ManagedSecret{Name: name, Charset: staxv1alpha1.CharsetAlphanumeric, Length: 32, Type: t}
	if t == staxv1alpha1.SecretTypeTLS {
		m.DNSNames = []string{name, name + ".ns"}
		m.ValidFor = validFor
	}
	return m
}

func syncOK(t *testing.T, st *State, req Request, g *fakeGen) Change {
	t.Helper()
	ch, err := Sync(st, req, g.gen)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestSyncKeyTypes: each type is written to its keys, once; a second Sync
// changes nothing and draws nothing.
func TestSyncKeyTypes(t *testing.T) {
	st := State{}
	g := &fakeGen{}
	managed := []render.ManagedSecret{
		typed("jwt", staxv1alpha1.SecretTypeEd25519), typed("sign", staxv1alpha1.SecretTypeRSA),
		typed("auth-tls", staxv1alpha1.SecretTypeTLS), typed("db-tls", staxv1alpha1.SecretTypeTLS), ms("pw", "", 0),
	}
	req := Request{Managed: managed, Now: t0}
	ch := syncOK(t, &st, req, g)
	// Draws: digest key, CA, then the managed secrets in order.
	if got, want := g.names(), []string{staxv1alpha1.DigestKey, "CA", "jwt", "sign", "auth-tls", "db-tls", "pw"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("draws %v, want %v", got, want)
	}
	want := map[string]string{
		staxv1alpha1.DigestKey: "v1", staxv1alpha1.CAKeyKey: "ca-key-v2", staxv1alpha1.CACertKey: "ca-crt-v2",
		"jwt": "v3", "jwt.pub": "v3.pub",
		"sign": "v4", "sign.pub": "v4.pub",
		"auth-tls": "v5", "auth-tls.crt": "v5.crt", "auth-tls.ca": "ca-crt-v2",
		"db-tls": "v6", "db-tls.crt": "v6.crt", "db-tls.ca": "ca-crt-v2",
		"pw": "v7",
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("data %v, want %v", got, want)
	}
	// The leaf is drawn with the CA, valid from now for validFor.
	leaf := g.draws[4]
	if string(leaf.CAKey) != "ca-key-v2" || string(leaf.CACert) != "ca-crt-v2" || !leaf.NotBefore.Equal(t0) || !leaf.NotAfter.Equal(t0.Add(validFor)) {
		t.Errorf("leaf draw %+v", leaf)
	}
	if ca := g.draws[1]; !ca.NotBefore.Equal(t0) || !ca.NotAfter.Equal(t0.Add(staxv1alpha1.CAValidFor)) {
		t.Errorf("CA draw %+v", ca)
	}
	if m := st.Values["auth-tls"]; m.Type != staxv1alpha1.SecretTypeTLS || m.NotAfter == nil || !m.NotAfter.Equal(t0.Add(validFor)) {
		t.Errorf("auth-tls meta %+v", m)
	}
	if m := st.Values["jwt"]; m.Type != staxv1alpha1.SecretTypeEd25519 || m.NotAfter != nil {
		t.Errorf("jwt meta %+v", m)
	}
	if m := st.Values["pw"]; m.Type != "" || m.Identity != "" {
		t.Errorf("a password's meta records a type or identity: %+v", m)
	}
	// Renewal is due two thirds into the validity.
	if !ch.NextRotation.Equal(t0.Add(60 * time.Hour)) {
		t.Errorf("NextRotation %s, want %s", ch.NextRotation, t0.Add(60*time.Hour))
	}

	before := cloneState(st)
	g2 := &fakeGen{}
	req.Now = t0.Add(60*time.Hour - time.Second)
	ch = syncOK(t, &st, req, g2)
	if ch.Modified || len(g2.calls) > 0 || !reflect.DeepEqual(st, before) {
		t.Errorf("second Sync changed something: %+v, draws %v", ch, g2.names())
	}
}

// TestSyncRenewal: at two thirds of validFor the leaf is renewed as a
// scheduled rotation: new key and certificate, the previous ones under
// .previous, the CA (and NAME.ca) unchanged, notAfter moved on.
func TestSyncRenewal(t *testing.T) {
	st := State{}
	g := &fakeGen{}
	m := typed("auth-tls", staxv1alpha1.SecretTypeTLS)
	syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, Now: t0}, g)
	renewAt := t0.Add(60 * time.Hour)
	ch := syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, Now: renewAt}, g)
	if got := ch.Rotated[TriggerSchedule]; !reflect.DeepEqual(got, []string{"auth-tls"}) {
		t.Fatalf("rotated %v, want auth-tls on schedule", ch.Rotated)
	}
	want := map[string]string{
		staxv1alpha1.DigestKey: "v1", staxv1alpha1.CAKeyKey: "ca-key-v2", staxv1alpha1.CACertKey: "ca-crt-v2",
		"auth-tls": "v4", "auth-tls.crt": "v4.crt", "auth-tls.ca": "ca-crt-v2",
		"auth-tls.previous": "v3", "auth-tls.crt.previous": "v3.crt",
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("data %v, want %v", got, want)
	}
	if got := g.names(); got[len(got)-1] != "auth-tls" || strings.Count(strings.Join(got, " "), "CA") != 1 {
		t.Errorf("draws %v: the CA was drawn again", got)
	}
	if na := st.Values["auth-tls"].NotAfter; na == nil || !na.Equal(renewAt.Add(validFor)) {
		t.Errorf("notAfter %v, want %s", na, renewAt.Add(validFor))
	}
	if !ch.NextRotation.Equal(renewAt.Add(60 * time.Hour)) {
		t.Errorf("NextRotation %s, want %s", ch.NextRotation, renewAt.Add(60*time.Hour))
	}
}

// TestSyncRotateKeepsCA: a rotation requested by annotation or by field
// makes a new leaf and keeps the CA; a keypair's rotation keeps the
// previous public key too.
func TestSyncRotateKeepsCA(t *testing.T) {
	st := State{}
	g := &fakeGen{}
	managed := []render.ManagedSecret{typed("auth-tls", staxv1alpha1.SecretTypeTLS), typed("jwt", staxv1alpha1.SecretTypeECDSA)}
	syncOK(t, &st, Request{Managed: managed, Now: t0}, g)
	ch := syncOK(t, &st, Request{Managed: managed, RotateNames: []string{"auth-tls", "jwt"}, RotateID: "r1", Now: tLater()}, g)
	if got := ch.Rotated[TriggerAnnotation]; !reflect.DeepEqual(got, []string{"auth-tls", "jwt"}) {
		t.Fatalf("rotated %v", ch.Rotated)
	}
	want := map[string]string{
		staxv1alpha1.DigestKey: "v1", staxv1alpha1.CAKeyKey: "ca-key-v2", staxv1alpha1.CACertKey: "ca-crt-v2",
		"auth-tls": "v5", "auth-tls.crt": "v5.crt", "auth-tls.ca": "ca-crt-v2",
		"auth-tls.previous": "v3", "auth-tls.crt.previous": "v3.crt",
		"jwt": "v6", "jwt.pub": "v6.pub", "jwt.previous": "v4", "jwt.pub.previous": "v4.pub",
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("data %v, want %v", got, want)
	}
}

// TestSyncIdentityChange: new dnsNames or validFor issue a new certificate,
// and a new type a new value, as rotations by field keeping the previous
// value; the keys of the former type that the new one lacks go.
func TestSyncIdentityChange(t *testing.T) {
	st := State{}
	g := &fakeGen{}
	m := typed("x", staxv1alpha1.SecretTypeTLS)
	syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, Now: t0}, g)

	m.DNSNames = []string{"x.example.com"}
	ch := syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, Now: tLater()}, g)
	if !reflect.DeepEqual(ch.Rotated[TriggerField], []string{"x"}) || string(st.Data["x.crt.previous"]) != "v3.crt" || string(st.Data["x.crt"]) != "v4.crt" {
		t.Fatalf("dnsNames change: rotated %v, data %v", ch.Rotated, stringMap(st.Data))
	}

	ed := typed("x", staxv1alpha1.SecretTypeEd25519)
	ch = syncOK(t, &st, Request{Managed: []render.ManagedSecret{ed}, Now: tLater()}, g)
	if !reflect.DeepEqual(ch.Rotated[TriggerField], []string{"x"}) {
		t.Fatalf("type change: rotated %v", ch.Rotated)
	}
	want := map[string]string{
		staxv1alpha1.DigestKey: "v1", staxv1alpha1.CAKeyKey: "ca-key-v2", staxv1alpha1.CACertKey: "ca-crt-v2",
		"x": "v5", "x.pub": "v5.pub", "x.previous": "v4",
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("after tls -> ed25519: data %v, want %v", got, want)
	}

	pw := ms("x", "", 0)
	syncOK(t, &st, Request{Managed: []render.ManagedSecret{pw}, Now: tLater()}, g)
	want = map[string]string{
		staxv1alpha1.DigestKey: "v1", staxv1alpha1.CAKeyKey: "ca-key-v2", staxv1alpha1.CACertKey: "ca-crt-v2",
		"x": "v6", "x.previous": "v5",
	}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("after ed25519 -> password: data %v, want %v", got, want)
	}
	if m := st.Values["x"]; m.Type != "" || m.Identity != "" {
		t.Errorf("password meta %+v", m)
	}
}

// TestSyncHookedKeypair: a hooked rotation stages every key of the value,
// commits them all on completion, and discards them all on failure.
func TestSyncHookedKeypair(t *testing.T) {
	m := typed("pw", staxv1alpha1.SecretTypeRSA)
	m.Hook = &staxv1alpha1.RotationHook{Image: "x", Command: []string{"true"}, TimeoutSeconds: 60}
	for _, outcome := range []observe.JobState{observe.JobComplete, observe.JobFailed} {
		st := State{}
		g := &fakeGen{}
		syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, Now: t0, Blueprint: "bp"}, g)
		ch := syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, RotateNames: []string{"pw"}, RotateID: "1", Now: tLater(), Blueprint: "bp"}, g)
		if !reflect.DeepEqual(ch.Staged, []string{"pw"}) {
			t.Fatalf("staged %v", ch.Staged)
		}
		if string(st.Data[staged]) != "v3" || string(st.Data[staged+".pub"]) != "v3.pub" || string(st.Data["pw"]) != "v2" || string(st.Data["pw.pub"]) != "v2.pub" {
			t.Fatalf("after staging: %v", stringMap(st.Data))
		}
		syncOK(t, &st, Request{Managed: []render.ManagedSecret{m}, RotateID: "1", RotateNames: []string{"pw"}, Now: tLater(), Blueprint: "bp", Jobs: map[string]observe.JobState{"pw": outcome}}, g)
		var want map[string]string
		if outcome == observe.JobComplete {
			want = map[string]string{staxv1alpha1.DigestKey: "v1", "pw": "v3", "pw.pub": "v3.pub", "pw.previous": "v2", "pw.pub.previous": "v2.pub"}
		} else {
			want = map[string]string{staxv1alpha1.DigestKey: "v1", "pw": "v2", "pw.pub": "v2.pub"}
		}
		if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
			t.Errorf("Job %s: data %v, want %v", outcome, got, want)
		}
	}
}

// TestSyncRenewalRetry: a hooked renewal that failed is tried again
// RenewalRetry later, not two thirds of a validity later (the certificate
// would have expired).
func TestSyncRenewalRetry(t *testing.T) {
	m := typed("auth-tls", staxv1alpha1.SecretTypeTLS)
	na := t0.Add(validFor)
	failedAt := t0.Add(61 * time.Hour)
	meta := ValueMeta{GeneratedAt: t0, Type: staxv1alpha1.SecretTypeTLS, Identity: m.Identity(), NotAfter: &na,
		Hook: finished(hs(staxv1alpha1.RotationStateFailed, 1, TriggerSchedule, "", t0.Add(60*time.Hour)), failedAt, FailureJobFailed)}
	if got := dueAt(m, meta); !got.Equal(failedAt.Add(RenewalRetry)) {
		t.Errorf("due %s, want %s", got, failedAt.Add(RenewalRetry))
	}
	meta.Hook = nil
	if got := dueAt(m, meta); !got.Equal(t0.Add(60 * time.Hour)) {
		t.Errorf("due %s, want %s", got, t0.Add(60*time.Hour))
	}
	m.RotateEvery = time.Hour
	if got := dueAt(m, meta); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("with rotateEvery 1h: due %s, want the earlier %s", got, t0.Add(time.Hour))
	}
}

// TestSyncPruneKeyParts: pruning a removed value deletes every key of its
// type and their previous values, and never a key its type lacks.
func TestSyncPruneKeyParts(t *testing.T) {
	st := State{
		Data: bytesMap(map[string]string{
			staxv1alpha1.DigestKey: "d", "t": "k", "t.crt": "c", "t.ca": "ca", "t.previous": "k0", "t.crt.previous": "c0",
			"p": "pw", "p.pub": "someone else's", staxv1alpha1.CAKeyKey: "cak", staxv1alpha1.CACertKey: "cac",
		}),
		Values: map[string]ValueMeta{"t": {GeneratedAt: t0, Type: staxv1alpha1.SecretTypeTLS}, "p": {GeneratedAt: t0}},
	}
	syncOK(t, &st, Request{Now: t0, Retention: 0}, &fakeGen{})
	want := map[string]string{staxv1alpha1.DigestKey: "d", "p.pub": "someone else's", staxv1alpha1.CAKeyKey: "cak", staxv1alpha1.CACertKey: "cac"}
	if got := stringMap(st.Data); !reflect.DeepEqual(got, want) {
		t.Errorf("data %v, want %v", got, want)
	}
}

// TestSyncAdoptsCertificate: a tls value found without its record (the
// annotation lost) is kept, and renewed on its certificate's schedule.
func TestSyncAdoptsCertificate(t *testing.T) {
	caKey, caCert, err := secretgen.NewCA(rand.Reader, "ca", t0)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := secretgen.Leaf(rand.Reader, caKey, caCert, []string{"a"}, t0, t0.Add(validFor))
	if err != nil {
		t.Fatal(err)
	}
	st := State{Data: map[string][]byte{staxv1alpha1.DigestKey: []byte("d"), staxv1alpha1.CAKeyKey: caKey, staxv1alpha1.CACertKey: caCert,
		"a": key, "a.crt": cert, "a.ca": caCert}}
	g := &fakeGen{}
	ch := syncOK(t, &st, Request{Managed: []render.ManagedSecret{typed("a", staxv1alpha1.SecretTypeTLS)}, Now: t0.Add(time.Hour)}, g)
	if len(g.calls) != 0 || string(st.Data["a"]) != string(key) {
		t.Fatalf("the value was not adopted as it is: draws %v", g.names())
	}
	if !ch.NextRotation.Equal(t0.Add(60 * time.Hour)) {
		t.Errorf("NextRotation %s, want %s", ch.NextRotation, t0.Add(60*time.Hour))
	}
}

// TestSyncGeneratorMissingPart: a generator that leaves out a key of the
// type fails the Sync instead of writing half a value.
func TestSyncGeneratorMissingPart(t *testing.T) {
	gen := func(d Draw) (map[string][]byte, error) {
		return map[string][]byte{"": []byte("k")}, nil
	}
	_, err := Sync(&State{}, Request{Managed: []render.ManagedSecret{typed("jwt", staxv1alpha1.SecretTypeEd25519)}, Now: t0}, gen)
	if err == nil || !strings.Contains(err.Error(), "jwt.pub") {
		t.Errorf("error %v, want one naming jwt.pub", err)
	}
}

// TestSyncCAOnlyWithTLS: no CA is made for a Blueprint without a tls
// secret; the first tls secret makes it, and it stays when that secret is
// pruned.
func TestSyncCAOnlyWithTLS(t *testing.T) {
	st := State{}
	g := &fakeGen{}
	syncOK(t, &st, Request{Managed: []render.ManagedSecret{typed("jwt", staxv1alpha1.SecretTypeEd25519), ms("pw", "", 0)}, Now: t0}, g)
	if _, ok := st.Data[staxv1alpha1.CAKeyKey]; ok || slices.Contains(g.names(), "CA") {
		t.Fatalf("a CA was made without a tls secret: draws %v", g.names())
	}
	syncOK(t, &st, Request{Managed: []render.ManagedSecret{typed("x", staxv1alpha1.SecretTypeTLS)}, Now: t0, Retention: time.Hour}, g)
	ca := string(st.Data[staxv1alpha1.CACertKey])
	if ca == "" || string(st.Data["x.ca"]) != ca {
		t.Fatalf("no CA with the first tls secret: %v", stringMap(st.Data))
	}
	// Found removed, then pruned once the retention has passed.
	syncOK(t, &st, Request{Now: t0.Add(2 * time.Hour), Retention: time.Hour}, g)
	syncOK(t, &st, Request{Now: t0.Add(4 * time.Hour), Retention: time.Hour}, g)
	if _, ok := st.Data["x"]; ok {
		t.Fatal("x was not pruned")
	}
	if string(st.Data[staxv1alpha1.CACertKey]) != ca || st.Data[staxv1alpha1.CAKeyKey] == nil {
		t.Error("the CA went with the last tls secret")
	}
}
