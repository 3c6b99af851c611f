package runtime

// SetBootID makes the manager believe the host booted as id: records of
// running containers from "another boot" are what a reboot leaves.
func SetBootID(m *Manager, id string) { m.bootID = id }

// BootID is the boot the manager believes it runs in.
func BootID(m *Manager) string { return m.bootID }
