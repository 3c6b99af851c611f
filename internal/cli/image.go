package cli

import "github.com/spf13/cobra"

// imageCommand is the `image` group; its commands also exist at the top
// level under Docker's old names (images, rmi, tag, save, load, ...).
func (a *app) imageCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage images"}
	ls := a.imagesCommand("ls")
	rm := a.rmiCommand("rm")
	rm.Aliases = []string{"rmi", "remove"}
	cmd.AddCommand(ls, a.historyCommand(), a.imageInspectCommand(), rm, a.tagCommand(),
		a.imagePruneCommand(), a.saveCommand(), a.loadCommand(), a.importCommand())
	cmd.AddCommand(a.imageSbomCommand(), a.imageCvesCommand())
	return cmd
}
