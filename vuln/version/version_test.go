package version

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Each chain is in ascending order, taken from the scheme's specification:
// Debian Policy §5.6.12, apk's version rules, rpmvercmp, SemVer 2.0.0 §11,
// PEP 440 and Maven's ComparableVersion.
var ascending = map[Scheme][][]string{
	Dpkg: {
		{"1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"},
		{"1.0~rc1", "1.0", "1.0-1", "1.0-1+b1", "1.0-2", "1.0+dfsg"},
		{"2.36-9", "2.36-9+deb12u3", "2.36-9+deb12u4", "2.36-10"},
		{"3.0.11-1~deb12u2", "3.0.11-1"},
		{"9.9-9", "1:0.1-1", "1:0.2", "2:0.0.1"},
		{"1.2", "1.10"},
	},
	APK: {
		{"1.2.3_alpha", "1.2.3_beta", "1.2.3_pre", "1.2.3_rc1", "1.2.3", "1.2.3-r1", "1.2.3_p1", "1.2.3a"},
		{"1.9", "1.10", "1.10.1"},
		{"3.1.4-r4", "3.1.4-r5", "3.1.5-r0"},
	},
	RPM: {
		{"1.0~rc1", "1.0", "1.0a", "1.0.1"},
		{"1.0-1", "1.0-2", "1.0-10"},
		{"2.28-225.el8", "2.28-225.el8_8", "2.28-226.el8"},
		{"9.0-1", "1:1.0-1", "2:0.1-1"},
	},
	SemVer: {
		{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
		{"v0.0.0-20210101000000-abcdefabcdef", "v0.1.0", "v1.9.0", "v1.10.0", "v2.0.0+incompatible"},
	},
	PEP440: {
		{"1.0.dev0", "1.0a1", "1.0a2", "1.0b1", "1.0rc1", "1.0", "1.0.post1", "1.1"},
		{"2.0", "1!0.5"},
		{"1.0", "1.0+local.1"},
	},
	Maven: {
		{"1.0-alpha", "1.0-beta", "1.0-milestone-1", "1.0-rc-1", "1.0-SNAPSHOT", "1.0", "1.0-sp"},
		{"1.0", "1.0.1", "1.1", "1.10"},
	},
}

var equal = map[Scheme][][2]string{
	Dpkg:   {{"1.0", "0:1.0"}, {"1.0-0", "1.0-0"}},
	APK:    {{"1.2.3-r0", "1.2.3-r0"}},
	RPM:    {{"1.0-1", "0:1.0-1"}},
	SemVer: {{"1.2.3", "v1.2.3"}, {"1.2.3+build.1", "1.2.3"}},
	PEP440: {{"1.0", "1.0.0"}, {"1.0a1", "1.0alpha1"}},
	Maven:  {{"1.0", "1.0.0"}, {"1.0", "1"}},
}

func TestOrder(t *testing.T) {
	for scheme, chains := range ascending {
		for _, chain := range chains {
			for i := range chain {
				for j := range chain {
					got, err := scheme.Compare(chain[i], chain[j])
					if err != nil {
						t.Fatalf("%s: %v", scheme, err)
					}
					want := 0
					if i < j {
						want = -1
					} else if i > j {
						want = 1
					}
					if sign(got) != want {
						t.Errorf("%s: compare(%q, %q) = %d, want %d", scheme, chain[i], chain[j], got, want)
					}
				}
			}
		}
	}
	for scheme, pairs := range equal {
		for _, p := range pairs {
			got, err := scheme.Compare(p[0], p[1])
			if err != nil || got != 0 {
				t.Errorf("%s: compare(%q, %q) = %d, %v; want equal", scheme, p[0], p[1], got, err)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestInvalid(t *testing.T) {
	for scheme, vs := range map[Scheme][]string{
		Dpkg:   {"", "a:1.0", "-1"},
		APK:    {"", "abc", "1.0-rX"},
		SemVer: {"", "1.2.3.4", "latest"},
		PEP440: {"", "not a version"},
	} {
		for _, v := range vs {
			if _, err := scheme.Parse(v); err == nil {
				t.Errorf("%s: %q parsed", scheme, v)
			}
		}
	}
}

func TestForEcosystem(t *testing.T) {
	for eco, want := range map[string]Scheme{
		"Debian:12": Dpkg, "Debian": Dpkg, "Ubuntu:22.04:LTS": Dpkg, "Alpine:v3.19": APK,
		"AlmaLinux:9": RPM, "Go": SemVer, "npm": SemVer, "crates.io": SemVer, "PyPI": PEP440, "Maven": Maven,
	} {
		got, err := ForEcosystem(eco)
		if err != nil || got != want {
			t.Errorf("ForEcosystem(%q) = %q, %v; want %q", eco, got, err, want)
		}
	}
	if _, err := ForEcosystem("Hackage"); err == nil {
		t.Error("unknown ecosystem accepted")
	}
}

func TestGoStdlib(t *testing.T) {
	for in, want := range map[string]string{"go1.21.5": "1.21.5", "go1.20": "1.20.0", "go1.22rc1": "1.22.0-rc.1", "go1.19beta1": "1.19.0-beta.1"} {
		if got := GoStdlib(in); got != want {
			t.Errorf("GoStdlib(%q) = %q, want %q", in, got, want)
		}
	}
}

// Comparing arbitrary strings in any scheme must never panic.
func FuzzCompare(f *testing.F) {
	f.Add("1:1.0~rc1-1", "1.0")
	f.Add("1.2.3_rc1-r0", "1.2.3a")
	f.Add("1!2.0.post1.dev3+x", "2.0")
	f.Add("1.0-alpha-1.SNAPSHOT", "1.0")
	f.Add("v1.2.3-pre+build", "1.2.3")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []Scheme{Dpkg, APK, RPM, SemVer, PEP440, Maven} {
			ab, err1 := s.Compare(a, b)
			ba, err2 := s.Compare(b, a)
			if err1 == nil && err2 == nil && sign(ab) != -sign(ba) && s != RPM && s != Maven {
				t.Errorf("%s: compare(%q,%q)=%d but compare(%q,%q)=%d", s, a, b, ab, b, a, ba)
			}
		}
	})
}

// The dpkg and rpm chains agree with the tools themselves where installed.
func TestOrderMatchesTools(t *testing.T) {
	check := func(scheme Scheme, cmp func(a, b string) (int, error)) {
		for _, chain := range ascending[scheme] {
			for i := 0; i+1 < len(chain); i++ {
				got, err := cmp(chain[i], chain[i+1])
				if err != nil {
					t.Fatalf("%s: %v", scheme, err)
				}
				if got >= 0 {
					t.Errorf("%s tool says %q >= %q", scheme, chain[i], chain[i+1])
				}
			}
		}
	}
	if _, err := exec.LookPath("dpkg"); err == nil {
		check(Dpkg, func(a, b string) (int, error) {
			if exec.Command("dpkg", "--compare-versions", a, "lt", b).Run() == nil {
				return -1, nil
			}
			return 1, nil
		})
	} else {
		t.Log("dpkg not installed: chains not cross-checked with dpkg --compare-versions")
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		check(RPM, func(a, b string) (int, error) {
			out, err := exec.Command("rpm", "--eval", fmt.Sprintf(`%%{lua: print(rpm.vercmp(%q, %q))}`, a, b)).Output()
			if err != nil {
				return 0, err
			}
			return strconv.Atoi(strings.TrimSpace(string(out)))
		})
	} else {
		t.Log("rpm not installed: chains not cross-checked with rpm.vercmp")
	}
}
