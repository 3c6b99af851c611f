package web

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// md renders a repository's full description. goldmark is used without
// html.WithUnsafe (its default): raw HTML in the markdown is dropped (left as a comment
// saying so), and links or images to javascript:, vbscript:, file: or
// data: (other than images) lose their address. What comes out is only
// the markdown's own elements, so it is safe to put in the page as is.
var md = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
)

func renderMarkdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(buf.String()) // #nosec: goldmark without unsafe HTML, see md
}
