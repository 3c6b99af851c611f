package ctr

import "context"

// SetBootID makes the manager believe the host booted as id: records of
// running containers from "another boot" are what a reboot leaves.
func SetBootID(m *Manager, id string) { m.bootID = id }

// BootID is the boot the manager believes it runs in.
func BootID(m *Manager) string { return m.bootID }

// Prepare sets c up as a start does, and stops there, as a starter killed
// at that moment would.
func Prepare(t interface{ Fatal(...any) }, m *Manager, c *Container) {
	unlock, err := m.lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c, err = m.load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	files, err := m.prepare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
}
