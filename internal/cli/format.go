package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode/utf8"

	units "github.com/docker/go-units"
)

// A Docker --format value: "table" (the default), "table TEMPLATE", "json"
// (one object per line) or a Go template printed once per item.

// templateFuncs are the functions Docker's templates offer.
var templateFuncs = template.FuncMap{
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"join":     strings.Join,
	"split":    strings.Split,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"title":    func(s string) string { return strings.ToUpper(s[:min(1, len(s))]) + s[min(1, len(s)):] },
	"pad":      func(s string, l, r int) string { return strings.Repeat(" ", l) + s + strings.Repeat(" ", r) },
	"truncate": func(s string, n int) string { return ellipsis(s, n) },
	"println":  fmt.Sprintln,
}

// formatter renders items with a Docker --format value.
type formatter struct {
	w       io.Writer
	format  string
	table   bool
	tmpl    *template.Template
	json    bool
	tw      *tabwriter.Writer
	headers map[string]string
	started bool
}

// newFormatter prepares format; defaultTable is the template of plain
// "table"; headers maps field names ("ID") to column headers ("IMAGE ID").
func newFormatter(w io.Writer, format, defaultTable string, headers map[string]string) (*formatter, error) {
	f := &formatter{w: w, headers: headers}
	switch {
	case format == "" || format == "table":
		f.table, format = true, defaultTable
	case format == "json":
		f.json = true
		return f, nil
	case strings.HasPrefix(format, "table "):
		f.table, format = true, strings.TrimPrefix(format, "table ")
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, statusError{msg: fmt.Sprintf("template parsing error: %v", err), code: exitBadUsage}
	}
	f.tmpl, f.format = t, format
	if f.table {
		f.tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	}
	return f, nil
}

// header prints the table's header line, once.
func (f *formatter) header() error {
	if !f.table || f.started {
		return nil
	}
	f.started = true
	var buf bytes.Buffer
	if err := f.tmpl.Execute(&buf, headerRow(f.headers)); err != nil {
		return err
	}
	_, err := fmt.Fprintln(f.tw, buf.String())
	return err
}

// headerRow answers every {{.Field}} with its column header.
type headerRow map[string]string

// item prints one item: v's exported methods and fields answer the
// template; jsonValue is what "json" prints.
func (f *formatter) item(v any, jsonValue any) error {
	if f.json {
		b, err := json.Marshal(jsonValue)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(f.w, string(b))
		return err
	}
	if err := f.header(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := f.tmpl.Execute(&buf, v); err != nil {
		return statusError{msg: fmt.Sprintf("template: %v", err), code: exitFailure}
	}
	out := io.Writer(f.w)
	if f.table {
		out = f.tw
	}
	_, err := fmt.Fprintln(out, buf.String())
	return err
}

// flush ends the output (a table with no rows still has its header).
func (f *formatter) flush() error {
	if f.table {
		if err := f.header(); err != nil {
			return err
		}
		return f.tw.Flush()
	}
	return nil
}

// humanSize is Docker's size column: three significant digits, decimal units.
func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// ellipsis cuts s to n characters, the last being "…", as Docker's CLI.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:max(n, 0)])
	}
	return string([]rune(s)[:n-1]) + "…"
}
