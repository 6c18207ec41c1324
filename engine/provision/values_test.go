package provision

import (
	"errors"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/model"
)

const (
	testSecret   = "Sup3r-Secret'pw$$${params.user}"
	testDBSecret = "DbOutput-S3cret"
)

// testContainer is a small resolved container using every kind of param.
func testContainer(osName string) *model.Container {
	return &model.Container{
		Name: "web",
		OS:   osName,
		Params: map[string]model.ResolvedParam{
			"password": {Type: model.ParamSecret, Secret: true, Generate: &model.Generate{Length: 16}},
			"user":     {Type: model.ParamString, Value: "app"},
			"db_host":  {Type: model.ParamString, Value: "${containers.db.ip}"},
			"db_pass":  {Type: model.ParamString, Value: "${containers.db.outputs.password}"},
			"price":    {Type: model.ParamString, Value: "5$ or $${x}"},
		},
	}
}

func testDeps() Deps {
	return DepMap(map[string]Dep{
		"db": {IP: "10.20.0.50", Hostname: "media-db", VMID: 210, Outputs: map[string]Output{
			"password": {Value: testDBSecret, Secret: true},
			"port":     {Value: "5432"},
		}},
	})
}

func testValues(t testing.TB, osName string) (*model.Container, *Values) {
	t.Helper()
	c := testContainer(osName)
	v, err := NewValues(c, Self{IP: "10.77.0.200", Hostname: "web", VMID: 100}, map[string]string{"password": testSecret}, testDeps())
	if err != nil {
		t.Fatal(err)
	}
	return c, v
}

func TestExpand(t *testing.T) {
	_, v := testValues(t, "debian")
	tests := []struct {
		in, want string
		secret   bool
		err      string
	}{
		{in: "plain text", want: "plain text"},
		{in: "user=${params.user}", want: "user=app"},
		{in: "pw=${params.password}", want: "pw=" + testSecret, secret: true},
		{in: "${container.ip}:${container.hostname}:${container.vmid}", want: "10.77.0.200:web:100"},
		{in: "${containers.db.ip} ${containers.db.hostname} ${containers.db.vmid}", want: "10.20.0.50 media-db 210"},
		{in: "${containers.db.outputs.port}", want: "5432"},
		{in: "${containers.db.outputs.password}", want: testDBSecret, secret: true},
		// Param values resolved from dependency references.
		{in: "${params.db_host}", want: "10.20.0.50"},
		{in: "${params.db_pass}", want: testDBSecret, secret: true},
		// Stack values are not unescaped twice; references inside a value
		// are not expanded again (one pass).
		{in: "${params.price}", want: "5$ or $${x}"},
		// $$ is a literal $; an escaped reference stays literal.
		{in: "cost $$5", want: "cost $5"},
		{in: "$${params.user}", want: "${params.user}"},
		{in: "$$$${params.user}", want: "$${params.user}"},
		// Shell syntax stays as written.
		{in: `echo "$HOME ${HOME} ${x:-y} $1 $"`, want: `echo "$HOME ${HOME} ${x:-y} $1 $"`},
		{in: "awk '{print ${'", want: "awk '{print ${'"},
		{in: "trailing $", want: "trailing $"},
		// Unknown references name themselves.
		{in: "${params.nope}", err: "${params.nope}"},
		{in: "${container.mac}", err: "${container.mac}"},
		{in: "${containers.cache.ip}", err: "${containers.cache.ip}"},
		{in: "${containers.db.outputs.missing}", err: "${containers.db.outputs.missing}"},
		{in: "${containers.db}", err: "${containers.db}"},
		{in: "${stack.name}", err: "${stack.name}"},
		{in: "${params.a.b}", err: "${params.a.b}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, secret, err := v.Expand(tt.in)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrUnknownReference) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Expand(%q) error = %v, want one naming %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || secret != tt.secret {
				t.Errorf("Expand(%q) = %q, secret %v; want %q, %v", tt.in, got, secret, tt.want, tt.secret)
			}
		})
	}
	red := strings.Join(v.Redact(), "\n")
	if !strings.Contains(red, testSecret) || !strings.Contains(red, testDBSecret) {
		t.Errorf("Redact() = %q, want both secrets", v.Redact())
	}
}

func TestNewValuesErrors(t *testing.T) {
	c := testContainer("debian")
	if _, err := NewValues(c, Self{}, nil, testDeps()); err == nil || !strings.Contains(err.Error(), "param password") {
		t.Errorf("missing generated value: err = %v", err)
	}
	if _, err := NewValues(c, Self{}, map[string]string{"password": "x"}, nil); err == nil || !strings.Contains(err.Error(), "${containers.db.ip}") {
		t.Errorf("no deps: err = %v", err)
	}
	_, v := testValues(t, "debian")
	noIP, err := NewValues(&model.Container{Name: "x"}, Self{Hostname: "x"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := noIP.Expand("${container.ip}"); !errors.Is(err, ErrUnknownReference) {
		t.Errorf("no address: err = %v", err)
	}
	if _, _, err := noIP.Expand("${container.vmid}"); !errors.Is(err, ErrUnknownReference) {
		t.Errorf("no vmid: err = %v", err)
	}
	if p, _ := v.Param("db_pass"); !p.Secret {
		t.Errorf("a param made from a secret output must be secret: %+v", p)
	}
}

func TestOutputs(t *testing.T) {
	c, v := testValues(t, "debian")
	c.Loaded = &model.Recipe{Name: "web", Outputs: map[string]model.Output{
		"url":      {Template: "http://${container.ip}:8080/"},
		"password": {Template: "${params.password}"},
		"dsn":      {Template: "postgresql://app:${params.db_pass}@${params.db_host}/app"},
		"literal":  {Template: "$$HOME"},
	}}
	got, err := Outputs(c, v)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Output{
		"url":      {Value: "http://10.77.0.200:8080/"},
		"password": {Value: testSecret, Secret: true},
		"dsn":      {Value: "postgresql://app:" + testDBSecret + "@10.20.0.50/app", Secret: true},
		"literal":  {Value: "$HOME"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("output %s = %+v, want %+v", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("outputs = %v", got)
	}
	c.Loaded.Outputs["bad"] = model.Output{Template: "${params.nope}"}
	if _, err := Outputs(c, v); err == nil || !strings.Contains(err.Error(), "output bad") {
		t.Errorf("unknown reference in an output: err = %v", err)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$", "$$", "${", "${}", "${a.b}", "${params.user}", "$${params.password}", "${params.password}x${container.ip}", "${containers.db.outputs.password}", "${x:-${params.user}}"} {
		f.Add(s)
	}
	c := testContainer("debian")
	v, err := NewValues(c, Self{IP: "10.0.0.1", Hostname: "h", VMID: 1}, map[string]string{"password": testSecret}, testDeps())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, secret, err := v.Expand(s)
		if err != nil {
			if !errors.Is(err, ErrUnknownReference) {
				t.Fatalf("Expand(%q): error of no known class: %v", s, err)
			}
			return
		}
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("Expand(%q) = %q changed text without $", s, out)
		}
		if strings.Contains(out, testSecret) && !strings.Contains(s, testSecret) && !secret {
			t.Fatalf("Expand(%q) put the secret in without marking it", s)
		}
	})
}
