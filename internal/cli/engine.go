package cli

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/berth-dev/berth/engine"
)

// engine opens the local engine once per command.
func (a *app) engine(ctx context.Context) (*engine.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	e, err := engine.Open(ctx, engine.Options{Root: a.storeRoot, DefaultHub: a.hub, Runtime: runtimeOptions})
	if err != nil {
		return nil, err
	}
	a.eng = e
	a.closers = append(a.closers, e.Close)
	return e, nil
}

// isTerminal reports whether w is a terminal (for progress bars and refusals).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// errorList reports several failures as Docker's CLI does: one line each,
// exit 1.
func (a *app) errorList(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, err := range errs {
		a.printError(err)
	}
	return exitStatus(exitFailure)
}

func (a *app) printError(err error) {
	io.WriteString(a.stderr, "Error: "+errorText(err)+"\n")
}

func errorText(err error) string { return err.Error() }
