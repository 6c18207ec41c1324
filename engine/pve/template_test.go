package pve

import "testing"

func TestParseTemplateName(t *testing.T) {
	for in, want := range map[string]TemplateName{
		"debian-12-standard_12.12-1_amd64.tar.zst":               {"debian-12-standard", "debian", "12", "standard", "12.12-1", "amd64", "zst"},
		"local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz": {"alpine-3.22-default", "alpine", "3.22", "default", "20250617", "amd64", "xz"},
		"archlinux-base_20260420-1_amd64.tar.zst":                {"archlinux-base", "archlinux", "", "base", "20260420-1", "amd64", "zst"},
		"centos-9-stream-default_20240828_amd64.tar.xz":          {"centos-9-stream-default", "centos", "9-stream", "default", "20240828", "amd64", "xz"},
		"proxmox-mail-gateway-9.1-standard_9.1-1_amd64.tar.zst":  {"proxmox-mail-gateway-9.1-standard", "proxmox-mail-gateway", "9.1", "standard", "9.1-1", "amd64", "zst"},
		"/var/lib/vz/template/cache/custom_1_arm64.tar":          {"custom", "custom", "", "", "1", "arm64", ""},
	} {
		got, ok := ParseTemplateName(in)
		if !ok || got != want {
			t.Errorf("ParseTemplateName(%q) = %+v %v, want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"debian-12.tar.zst", "x_y_z.tar.rar", "", "a_b_c.iso"} {
		if _, ok := ParseTemplateName(in); ok {
			t.Errorf("ParseTemplateName(%q) accepted", in)
		}
	}
	if tn, _ := ParseTemplateName("debian-12-standard_12.7-1_amd64.tar.zst"); tn.Format() != "tzst" {
		t.Errorf("format = %q", tn.Format())
	}
}
