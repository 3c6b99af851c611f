package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

func (a *app) imageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspectAll(cmd.Context(), args, format, func(ctx context.Context, name string) (any, error) {
				e, err := a.engine(ctx)
				if err != nil {
					return nil, err
				}
				return e.InspectImage(ctx, name)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template ('json' or a Go template)")
	return cmd
}

// inspectAll prints objects as Docker's inspect does: a JSON array indented
// by four spaces, or a template per object. It goes on past a missing one
// and exits 1 at the end.
func (a *app) inspectAll(ctx context.Context, names []string, format string, get func(context.Context, string) (any, error)) error {
	var tmpl *template.Template
	if format != "" && format != "json" {
		var err error
		tmpl, err = template.New("inspect").Funcs(templateFuncs).Parse(strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format))
		if err != nil {
			return statusError{msg: fmt.Sprintf("template parsing error: %v", err), code: exitBadUsage}
		}
	}
	var objs []any
	var errs []error
	for _, n := range names {
		obj, err := get(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	if tmpl != nil {
		for _, obj := range objs {
			// Templates see the JSON form, as Docker's do (map keys, not Go fields).
			raw, _ := json.Marshal(obj)
			var generic any
			_ = json.Unmarshal(raw, &generic)
			var buf bytes.Buffer
			if err := tmpl.Execute(&buf, generic); err != nil {
				return statusError{msg: fmt.Sprintf("template: %v", err), code: exitFailure}
			}
			fmt.Fprintln(a.stdout, buf.String())
		}
	} else {
		if objs == nil {
			objs = []any{}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		if err := enc.Encode(objs); err != nil {
			return err
		}
		a.stdout.Write(buf.Bytes())
	}
	return a.errorList(errs)
}

// inspectCommand is the top-level inspect, for any kind of object:
// containers, then images, then volumes, as Docker tries them.
func (a *app) inspectCommand() *cobra.Command {
	var format, kind string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on berth objects",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			get, err := a.inspectObject(kind)
			if err != nil {
				return err
			}
			return a.inspectAll(cmd.Context(), args, format, get)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template ('json' or a Go template)")
	cmd.Flags().StringVar(&kind, "type", "", "Return JSON for specified type")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}
