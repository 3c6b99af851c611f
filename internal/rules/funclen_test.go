package rules

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines is the longest a function body may be, braces included.
const maxLines = 100

// TestFunctionLength keeps every non-test function readable in one
// screenful or two. A body that is one plain composite literal (a table,
// a struct literal) may be longer; so may code that exists for tests
// (files named _test.go, and packages named like test helpers).
func TestFunctionLength(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || testHelper(name)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		n++
		for _, long := range longFuncs(fset, f) {
			rel, _ := filepath.Rel(root, long.pos.Filename)
			t.Errorf("%s:%d: %s is %d lines (at most %d)", rel, long.pos.Line, long.name, long.lines, maxLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("read only %d Go files: wrong root?", n)
	}
}

func TestFunctionLengthCatches(t *testing.T) {
	src := "package p\nfunc long() {\n" + strings.Repeat("\tprintln()\n", maxLines) + "}\n" +
		"func table() []int {\n\treturn []int{\n" + strings.Repeat("\t\t1,\n", maxLines) + "\t}\n}\n" +
		"func short() { _ = func() {\n" + strings.Repeat("\tprintln()\n", maxLines) + "} }\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := longFuncs(fset, f)
	if len(got) != 3 || got[0].name != "long" || got[1].name != "short" || got[2].name != "a function literal in short" {
		t.Errorf("got %+v, want long, short and its literal (not table)", got)
	}
}

// testHelper tells packages that exist for tests (blobstest, testimage).
func testHelper(dir string) bool {
	return strings.HasSuffix(dir, "test") || strings.HasPrefix(dir, "test")
}

type longFunc struct {
	name  string
	pos   token.Position
	lines int
}

// longFuncs lists the functions and function literals in f whose bodies
// are longer than maxLines.
func longFuncs(fset *token.FileSet, f *ast.File) []longFunc {
	var out []longFunc
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		if l := lines(fset, fn.Body); l > maxLines && !plainLiteral(fn.Body) {
			out = append(out, longFunc{fn.Name.Name, fset.Position(fn.Pos()), l})
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.FuncLit)
			if ok && lines(fset, lit.Body) > maxLines && !plainLiteral(lit.Body) {
				out = append(out, longFunc{"a function literal in " + fn.Name.Name, fset.Position(lit.Pos()), lines(fset, lit.Body)})
			}
			return true
		})
	}
	return out
}

func lines(fset *token.FileSet, b *ast.BlockStmt) int {
	return fset.Position(b.Rbrace).Line - fset.Position(b.Lbrace).Line + 1
}

// plainLiteral tells a body that only returns one composite literal.
func plainLiteral(b *ast.BlockStmt) bool {
	if len(b.List) != 1 {
		return false
	}
	ret, ok := b.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return false
	}
	e := ret.Results[0]
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		e = u.X
	}
	_, ok = e.(*ast.CompositeLit)
	return ok
}
