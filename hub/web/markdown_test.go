package web

import (
	"net/url"
	"strings"
	"testing"
)

func TestMarkdownIsInert(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // must appear
		never     []string // must not appear
	}{
		{"heading and text", "# Title\n\nhello *there*", []string{"<h1>Title</h1>", "<em>there</em>"}, nil},
		{"table (GFM)", "| a | b |\n|---|---|\n| 1 | 2 |", []string{"<table>", "<td>1</td>"}, nil},
		{"script block", "<script>alert(1)</script>", nil, []string{"<script", "alert(1)</script>"}},
		{"inline script", "text <script>alert(1)</script> more", nil, []string{"<script"}},
		{"event handler", `<img src=x onerror="alert(1)">`, nil, []string{"onerror", "<img src=x"}},
		{"iframe", `<iframe src="https://example.com"></iframe>`, nil, []string{"<iframe"}},
		{"javascript link", "[click](javascript:alert(1))", []string{">click</a>"}, []string{"javascript:"}},
		{"vbscript link", "[click](vbscript:msgbox)", nil, []string{"vbscript:"}},
		{"data html link", "[x](data:text/html,<script>alert(1)</script>)", nil, []string{"data:text/html", "<script"}},
		{"autolink javascript", "<javascript:alert(1)>", nil, []string{`href="javascript:`}},
		{"code keeps text", "`<script>`", []string{"<code>&lt;script&gt;</code>"}, []string{"<script>"}},
		{"ordinary link", "[docs](https://example.com/x)", []string{`<a href="https://example.com/x">docs</a>`}, nil},
	}
	for _, tt := range tests {
		got := string(renderMarkdown(tt.src))
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tt.name, got, w)
			}
		}
		for _, n := range tt.never {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q contains %q", tt.name, got, n)
			}
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/r/welcome":            "/r/welcome",
		"/?q=a":                 "/?q=a",
		"":                      "/",
		"https://evil.example/": "/",
		"//evil.example/":       "/",
		"/\\evil.example":       "/",
		"javascript:alert(1)":   "/",
		"r/welcome":             "/",
		"/\t/evil.example/x":    "/",
		"/\n/evil.example/x":    "/",
		"/\x00x":                "/",
		"/\x7f":                 "/",
		"/r/a\\b":               "/",
		"/ok\u2028":             "/",
		"http:/x":               "/",
		"/r/welcome#tags":       "/r/welcome#tags",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLocalPath: whatever next is, the redirect goes to this site, as a
// browser reads it too: it drops tabs and newlines and takes a backslash
// for a slash.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/r/welcome", "/\t/evil.example", "//x", "/\\x", "/%2F/x", "http://x", "/?next=//x", "/#//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := url.Parse(browser)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(browser, "/") || strings.HasPrefix(browser, "//") {
			t.Fatalf("localPath(%q) = %q, which a browser reads as %q", next, got, browser)
		}
	})
}
