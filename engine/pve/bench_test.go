package pve

import "testing"

func BenchmarkParseConfig(b *testing.B) {
	raw := readTestdata(b, "config_full.conf")
	for b.Loop() {
		if _, err := ParseConfig(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConfigBytes(b *testing.B) {
	c, err := ParseConfig(readTestdata(b, "config_full.conf"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = c.Bytes()
	}
}

func BenchmarkParseNet(b *testing.B) {
	s := "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:5E:0A:91,ip=192.168.1.50/24,tag=20,type=veth"
	for b.Loop() {
		if _, err := ParseNet("net0", s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePctList(b *testing.B) {
	raw := readTestdata(b, "pct_list.txt")
	for b.Loop() {
		if _, err := ParsePctList(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	s := "trying to acquire lock...\nunable to create CT 100 - can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n"
	for b.Loop() {
		_ = Classify(s)
	}
}
