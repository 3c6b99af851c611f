package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// containerRow is a container as the Containers page shows it.
type containerRow struct {
	ID          string        `json:"id"`
	ShortID     string        `json:"short_id"`
	Name        string        `json:"name"`
	Image       string        `json:"image"`
	ImageID     string        `json:"image_id"`
	Command     string        `json:"command"`
	Created     time.Time     `json:"created"`
	State       string        `json:"state"`
	Status      string        `json:"status"`
	Running     bool          `json:"running"`
	Ports       []portMapping `json:"ports"`
	Unpublished []string      `json:"exposed"`
}

type portMapping struct {
	HostIP        string `json:"host_ip"`
	HostPort      uint16 `json:"host_port"`
	ContainerPort uint16 `json:"container_port"`
	Proto         string `json:"proto"`
}

func rowOf(c *engine.Container, now time.Time) containerRow {
	row := containerRow{
		ID: c.ID, ShortID: c.ShortID(), Name: c.Name, Image: c.Image, ImageID: c.ImageID, Command: c.Command(),
		Created: c.Created, State: string(c.State.Status), Status: c.StatusText(now), Running: c.State.Running,
		Ports: []portMapping{}, Unpublished: []string{},
	}
	published := map[string]bool{}
	for _, m := range c.NetworkSettings.Ports {
		row.Ports = append(row.Ports, portMapping{m.HostIP, m.HostPort, m.ContainerPort, m.Proto})
		published[m.Port()] = true
	}
	for _, p := range c.Config.ExposedPorts {
		if !published[p] {
			row.Unpublished = append(row.Unpublished, p)
		}
	}
	return row
}

// containersHere says why containers cannot run here, nil if they can.
func (s *Server) containersHere(ctx context.Context) error {
	if err := s.e.CheckRuntime(ctx); err != nil {
		return fmt.Errorf("containers are not available here: %w", err)
	}
	return nil
}

// listContainers lists every container, or those the filter query values
// select (as ps --filter, stopped ones included).
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	list, err := s.e.ListContainers(r.Context(), engine.ContainerListOptions{All: true, Filters: r.URL.Query()["filter"]})
	if errdefs.IsInvalid(err) {
		apiError(w, err)
		return
	}
	if err != nil {
		apiError(w, fmt.Errorf("containers are not available here: %w", err))
		return
	}
	now := time.Now()
	rows := make([]containerRow, 0, len(list))
	for _, c := range list {
		rows = append(rows, rowOf(c, now))
	}
	writeJSON(w, http.StatusOK, rows)
}

// runRequest is the Run dialog: the image and its optional settings.
type runRequest struct {
	Image string `json:"image"`
	Name  string `json:"name"`
	// Ports maps exposed ports ("80/tcp") to host ports: "0" picks a free
	// one, "" leaves the port unpublished.
	Ports   []portRequest `json:"ports"`
	Env     []string      `json:"env"`
	Volumes []string      `json:"volumes"`
}

type portRequest struct {
	Container string `json:"container"`
	Host      string `json:"host"`
}

// createOptions builds the engine's container spec of the dialog's
// fields (blank rows dropped, as the form adds them) and has the engine
// check it as it checks run's flags, with the same words.
func (q runRequest) createOptions() (engine.CreateOptions, error) {
	spec := engine.ContainerSpec{Image: strings.TrimSpace(q.Image), Name: strings.TrimSpace(q.Name)}
	for _, p := range q.Ports {
		if host := strings.TrimSpace(p.Host); host != "" {
			spec.HostPorts = append(spec.HostPorts, engine.HostPort{Container: p.Container, Host: host})
		}
	}
	spec.Env = nonBlank(q.Env)
	spec.Volumes = nonBlank(q.Volumes)
	return spec.Options()
}

// nonBlank are the trimmed values of a form's rows that are not blank.
func nonBlank(rows []string) []string {
	var out []string
	for _, r := range rows {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// runContainer is `docker run -d` with the dialog's settings.
func (s *Server) runContainer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var q runRequest
	if !readJSON(w, r, &q) {
		return
	}
	o, err := q.createOptions()
	if err != nil {
		apiError(w, err)
		return
	}
	if err := s.containersHere(ctx); err != nil {
		apiError(w, err)
		return
	}
	c, err := s.e.CreateContainer(ctx, o)
	if err != nil {
		apiError(w, err)
		return
	}
	if _, err := s.e.StartContainer(ctx, c.ID, nil); err != nil {
		writeJSON(w, statusOf(err), map[string]string{"error": err.Error(), "id": c.ID})
		return
	}
	if c, err = s.e.Container(ctx, c.ID); err != nil {
		if errdefs.IsNotFound(err) {
			err = errdefs.Newf(errdefs.ErrNotFound, "the container went as soon as it started")
		}
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, rowOf(c, time.Now()))
}

func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, func(ctx context.Context, id string) error {
		_, err := s.e.StartContainer(ctx, id, nil)
		return err
	})
}

func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) {
	s.lifecycle(w, r, func(ctx context.Context, id string) error {
		return s.e.StopContainer(ctx, id, nil)
	})
}

// removeContainer is `docker rm -f`: the page asks before.
func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) {
	id, err := s.e.RemoveContainer(r.Context(), r.PathValue("id"), engine.RemoveOptions{Force: true})
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": id})
}

func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, fn func(context.Context, string) error) {
	ctx := r.Context()
	if err := s.containersHere(ctx); err != nil {
		apiError(w, err)
		return
	}
	id := r.PathValue("id")
	if err := fn(ctx, id); err != nil {
		apiError(w, err)
		return
	}
	c, err := s.e.Container(ctx, id)
	if err != nil {
		apiError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rowOf(c, time.Now()))
}

// logWriter turns a stream of the log into "log" events.
type logWriter struct {
	ev     *events
	stream string
}

func (l logWriter) Write(p []byte) (int, error) {
	if err := l.ev.send("log", map[string]string{"stream": l.stream, "text": string(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// containerLogs follows the log as server-sent events: "log" {stream,
// text}, then "end" when the container stops.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.containersHere(ctx); err != nil {
		apiError(w, err)
		return
	}
	id := r.PathValue("id")
	if _, err := s.e.Container(ctx, id); err != nil {
		apiError(w, err)
		return
	}
	ev := newEvents(w)
	err := s.e.ContainerLogs(ctx, id, engine.LogsOptions{Tail: 1000, Follow: true}, logWriter{ev, "stdout"}, logWriter{ev, "stderr"})
	if err != nil && ctx.Err() == nil {
		ev.send("error", map[string]string{"error": err.Error()})
		return
	}
	ev.send("end", map[string]string{})
}
