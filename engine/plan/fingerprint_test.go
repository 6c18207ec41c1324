package plan

import (
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/model"
)

func TestFingerprintSecrets(t *testing.T) {
	c := appCtr("app")
	res := ResolverFunc(func(ref string) (Value, bool) {
		if ref == "containers.db.ip" {
			return Value{Text: "10.0.0.5"}, true
		}
		return Value{}, false
	})
	spec := func(c *model.Container, key []byte) Fingerprint {
		return SpecFingerprint(c, SpecInput{Config: map[string]string{"memory": "512"}, Key: key, Resolver: res})
	}
	a := spec(c, testKey)
	if strings.Contains(a.String(), "hunter2") || a.Keyed == "" || a.Keyed == "?" {
		t.Fatalf("spec %s", a)
	}
	c2 := appCtr("app", func(c *model.Container) {
		c.Params["db_password"] = model.ResolvedParam{Value: "other", Type: model.ParamSecret, Secret: true}
	})
	b := spec(c2, testKey)
	if a.Public != b.Public {
		t.Error("a secret value leaked into the public half")
	}
	if a.Same(b) {
		t.Error("a changed secret is not detected with the key")
	}
	if k2 := spec(c, []byte("another key")); k2.Keyed == a.Keyed {
		t.Error("the keyed half does not depend on the key")
	}
	noKey := spec(c2, nil)
	if noKey.Keyed != "?" || !noKey.Same(a) || !SameText(noKey.String(), a.String()) {
		t.Errorf("without key: %s vs %s", noKey, a)
	}
	// Steps: only the step using the secret carries a keyed half.
	steps := StepFingerprints(c, testKey, res)
	if len(steps) != 2 || steps[0].Keyed != "" || steps[1].Keyed == "" {
		t.Errorf("steps %v", steps)
	}
}

func TestFingerprintDependencies(t *testing.T) {
	c := appCtr("app")
	at := func(ip string, ok bool) []Fingerprint {
		return StepFingerprints(c, testKey, ResolverFunc(func(ref string) (Value, bool) {
			return Value{Text: ip}, ok && ref == "containers.db.ip"
		}))
	}
	a, b, u := at("10.0.0.5", true), at("10.0.0.6", true), at("", false)
	if !a[0].Same(b[0]) {
		t.Error("step 1 uses no dependency value but changed")
	}
	if a[1].Same(b[1]) || a[1].Same(u[1]) {
		t.Error("a dependency's new address does not change the step that uses it")
	}
}

func TestParseFingerprint(t *testing.T) {
	for s, ok := range map[string]bool{
		"sha256:abcdef":           true,
		"sha256:abcdef+hmac:0123": true,
		"sha256:abcdef+hmac:?":    true,
		"sha256:":                 false,
		"md5:abcdef":              false,
		"sha256:ABCDEF":           false,
		"sha256:abcdef+hmac:":     false,
		"sha256:abcdef+hmac:zz":   false,
		"":                        false,
	} {
		if _, got := ParseFingerprint(s); got != ok {
			t.Errorf("ParseFingerprint(%q) = %v", s, got)
		}
	}
	if SameText("garbage", "garbage") {
		t.Error("unparsable fingerprints compare equal")
	}
}

func TestGeneratedSecretIsStable(t *testing.T) {
	// A generated secret's value is never read: the fingerprint covers its
	// identity, so a plan made without access to the value is stable.
	c := ctr("db")
	a := StepFingerprints(c, testKey, nil)
	b := StepFingerprints(c, nil, nil)
	for i := range a {
		if !a[i].Same(b[i]) {
			t.Errorf("step %d differs with and without key: %s %s", i, a[i], b[i])
		}
	}
}

func TestResolverOutputs(t *testing.T) {
	d := desired(ctr("db", func(c *model.Container) { c.Network.IP = "10.20.0.50/24" }), appCtr("app"))
	r := NewResolver(d, nil)
	if v, ok := r.Lookup("containers.db.outputs.url"); !ok || v.Text != "redis://10.20.0.50:6379" || v.Secret {
		t.Errorf("url: %+v %v", v, ok)
	}
	if v, ok := r.Lookup("containers.db.ip"); !ok || v.Text != "10.20.0.50" {
		t.Errorf("ip: %+v %v", v, ok)
	}
	if _, ok := r.Lookup("containers.app.ip"); ok {
		t.Error("a DHCP address without marker is known")
	}
	r = NewResolver(d, map[string]*Marker{"app": {Addresses: map[string]string{"eth0": "10.77.0.9"}}})
	if v, ok := r.Lookup("containers.app.ip"); !ok || v.Text != "10.77.0.9" {
		t.Errorf("learned address: %+v %v", v, ok)
	}
	for _, ref := range []string{"containers.nope.ip", "containers.db.outputs.nope", "containers.db", "other.x"} {
		if _, ok := r.Lookup(ref); ok {
			t.Errorf("%s resolved", ref)
		}
	}
}
