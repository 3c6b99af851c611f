package image

import (
	"errors"
	"reflect"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

func TestApplyChanges(t *testing.T) {
	var c ContainerConfig
	err := ApplyChanges(&c, []string{
		`CMD ["httpd", "-f"]`,
		`ENV A=1 B="two words"`,
		`ENV C three`,
		`EXPOSE 80 53/udp`,
		`LABEL org.example=yes`,
		`WORKDIR /www`,
		`USER nobody`,
		`VOLUME ["/data"]`,
		`STOPSIGNAL SIGINT`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := ContainerConfig{
		Cmd:          StrSlice{"httpd", "-f"},
		Env:          []string{"A=1", "B=two words", "C=three"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"org.example": "yes"},
		WorkingDir:   "/www",
		User:         "nobody",
		Volumes:      map[string]struct{}{"/data": {}},
		StopSignal:   "SIGINT",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	c = ContainerConfig{Cmd: StrSlice{"old"}}
	ApplyChanges(&c, []string{"ENTRYPOINT /bin/app --flag"})
	if !reflect.DeepEqual(c.Entrypoint, StrSlice{"/bin/sh", "-c", "/bin/app --flag"}) || c.Cmd != nil {
		t.Fatalf("entrypoint in shell form: %+v", c)
	}
	if err := ApplyChanges(&c, []string{"RUN rm -rf /"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("RUN accepted: %v", err)
	}
}
