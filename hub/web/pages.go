package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

type choice struct {
	Value, Label, URL string
	Selected          bool
}

type searchContent struct {
	Results        SearchResults
	Q, Badge, Sort string
	Badges, Sorts  []choice
	Prev, Next     string
}

var badgeChoices = []choice{{Value: "", Label: "All"}, {Value: "official", Label: "Official Image"}, {Value: "verified_publisher", Label: "Verified Publisher"}, {Value: "open_source", Label: "Sponsored OSS"}}
var sortChoices = []choice{{Value: "relevance", Label: "Best match"}, {Value: "stars", Label: "Most stars"}, {Value: "pulls", Label: "Most pulls"}, {Value: "updated", Label: "Recently updated"}}

// searchPage: GET /?q=&badge=&sort=&page=
func (s *Site) searchPage(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r, "registry:catalog:search")
	q := r.URL.Query()
	c := searchContent{Q: q.Get("q"), Badge: q.Get("badge"), Sort: q.Get("sort")}
	if c.Sort == "" {
		c.Sort = "relevance"
	}
	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = max(pageNo, 1)
	at := func(badge, sort string, pageNo int) string {
		v := url.Values{}
		for k, val := range map[string]string{"q": c.Q, "badge": badge, "sort": sort} {
			if val != "" && !(k == "sort" && val == "relevance") {
				v.Set(k, val)
			}
		}
		if pageNo > 1 {
			v.Set("page", strconv.Itoa(pageNo))
		}
		if len(v) == 0 {
			return "/"
		}
		return "/?" + v.Encode()
	}
	for _, b := range badgeChoices {
		b.Selected, b.URL = b.Value == c.Badge, at(b.Value, c.Sort, 1)
		c.Badges = append(c.Badges, b)
	}
	for _, o := range sortChoices {
		o.Selected, o.URL = o.Value == c.Sort, at(c.Badge, o.Value, 1)
		c.Sorts = append(c.Sorts, o)
	}
	api := url.Values{"q": {c.Q}, "sort": {c.Sort}, "page": {strconv.Itoa(pageNo)}, "page_size": {"25"}}
	if c.Badge != "" {
		api.Set("badge", c.Badge)
	}
	if err := s.get(r.Context(), "/api/v1/search", api, accessOf(se), &c.Results); err != nil {
		s.failErr(w, r, se, err)
		return
	}
	if pageNo > 1 {
		c.Prev = at(c.Badge, c.Sort, pageNo-1)
	}
	if pageNo*c.Results.PageSize < c.Results.Total {
		c.Next = at(c.Badge, c.Sort, pageNo+1)
	}
	title := "Explore images"
	if c.Q != "" {
		title = "Search: " + c.Q
	}
	s.render(w, r, se, http.StatusOK, "search", title, c)
}

func accessOf(se *session) string {
	if se == nil {
		return ""
	}
	return se.access
}

type repoContent struct {
	Repo     Repo
	Tags     []Tag
	Pull     string // HOST/NAME
	CanEdit  bool
	TagsNote string
}

func repoScope(name, actions string) string { return "repository:" + name + ":" + actions }

var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// repoName is the page's repository, or "" when it is no repository name
// the API could answer for (a last component "tags" or "star" would reach
// another endpoint).
func repoName(r *http.Request) string {
	name := r.PathValue("name")
	if !nameRE.MatchString(name) || len(name) > 255 || strings.Contains(name+"/", "/tags/") || strings.HasSuffix(name, "/star") {
		return ""
	}
	return name
}

// repoPage: GET /r/NAME
func (s *Site) repoPage(w http.ResponseWriter, r *http.Request) {
	name := repoName(r)
	if name == "" {
		s.fail(w, r, nil, http.StatusNotFound, "No such repository.")
		return
	}
	se := s.session(w, r, repoScope(name, "pull"))
	ctx := r.Context()
	var c repoContent
	if err := s.get(ctx, "/api/v1/repositories/"+name, nil, accessOf(se), &c.Repo); err != nil {
		s.failErr(w, r, se, err)
		return
	}
	var tags struct {
		Tags []Tag `json:"tags"`
	}
	if err := s.get(ctx, "/api/v1/repositories/"+name+"/tags", nil, accessOf(se), &tags); err != nil {
		c.TagsNote = "The tags could not be read: " + err.Error()
	}
	c.Tags = tags.Tags
	c.Pull = s.host + "/" + c.Repo.Name
	if se != nil {
		c.CanEdit = se.user.Owns(c.Repo.Namespace)
	}
	s.render(w, r, se, http.StatusOK, "repo", c.Repo.Name, c)
}

// star: POST /star/NAME with action=star or unstar.
func (s *Site) star(w http.ResponseWriter, r *http.Request) {
	name := repoName(r)
	if name == "" {
		s.fail(w, r, nil, http.StatusNotFound, "No such repository.")
		return
	}
	back := "/r/" + name
	se := s.session(w, r, repoScope(name, "pull"))
	if se == nil {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(back), http.StatusSeeOther)
		return
	}
	if !checkCSRF(r, se) {
		s.fail(w, r, se, http.StatusForbidden, "The form had expired or came from elsewhere: go back, reload and try again.")
		return
	}
	method := http.MethodPut
	if r.PostFormValue("action") == "unstar" {
		method = http.MethodDelete
	}
	if err := s.call(r.Context(), method, "/api/v1/repositories/"+name+"/star", nil, se.access, nil, "", nil); err != nil {
		s.failErr(w, r, se, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type settingsContent struct {
	Repo  Repo
	Error string
	Saved bool
}

// settingsFor loads a repository for its owner, or answers.
func (s *Site) settingsFor(w http.ResponseWriter, r *http.Request) (*session, *Repo) {
	name := repoName(r)
	if name == "" {
		s.fail(w, r, nil, http.StatusNotFound, "No such repository.")
		return nil, nil
	}
	se := s.session(w, r, repoScope(name, "pull,push"))
	if se == nil {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape("/settings/"+name), http.StatusSeeOther)
		return nil, nil
	}
	var repo Repo
	if err := s.get(r.Context(), "/api/v1/repositories/"+name, nil, se.access, &repo); err != nil {
		s.failErr(w, r, se, err)
		return nil, nil
	}
	if !se.user.Owns(repo.Namespace) {
		s.fail(w, r, se, http.StatusForbidden, "Only the repository's owners may change its settings.")
		return nil, nil
	}
	return se, &repo
}

// settingsPage: GET /settings/NAME, for the repository's owners.
func (s *Site) settingsPage(w http.ResponseWriter, r *http.Request) {
	se, repo := s.settingsFor(w, r)
	if repo == nil {
		return
	}
	s.render(w, r, se, http.StatusOK, "settings", "Settings of "+repo.Name, settingsContent{Repo: *repo, Saved: r.URL.Query().Get("saved") == "1"})
}

// saveSettings: POST /settings/NAME changes descriptions and privacy.
func (s *Site) saveSettings(w http.ResponseWriter, r *http.Request) {
	se, repo := s.settingsFor(w, r)
	if repo == nil {
		return
	}
	if !checkCSRF(r, se) {
		s.fail(w, r, se, http.StatusForbidden, "The form had expired or came from elsewhere: go back, reload and try again.")
		return
	}
	desc := strings.TrimSpace(r.PostFormValue("description"))
	full := strings.ReplaceAll(r.PostFormValue("full_description"), "\r\n", "\n")
	private := r.PostFormValue("private") == "on"
	body, _ := json.Marshal(map[string]any{"description": desc, "full_description": full, "is_private": private})
	err := s.call(r.Context(), http.MethodPatch, "/api/v1/repositories/"+repo.Name, nil, se.access, bytes.NewReader(body), "application/json", nil)
	if err != nil {
		repo.Description, repo.FullDescription, repo.Private = desc, full, private
		msg := err.Error()
		status := http.StatusBadRequest
		if e, ok := err.(*apiError); ok {
			status = e.Status
		}
		s.render(w, r, se, status, "settings", "Settings of "+repo.Name, settingsContent{Repo: *repo, Error: msg})
		return
	}
	http.Redirect(w, r, "/settings/"+repo.Name+"?saved=1", http.StatusSeeOther)
}

// namespacePage: GET /u/NAME
func (s *Site) namespacePage(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r, "registry:catalog:search")
	var ns Namespace
	if !nameRE.MatchString(r.PathValue("ns")) || strings.Contains(r.PathValue("ns"), "/") {
		s.fail(w, r, se, http.StatusNotFound, "No such namespace.")
		return
	}
	if err := s.get(r.Context(), "/api/v1/namespaces/"+r.PathValue("ns"), nil, accessOf(se), &ns); err != nil {
		s.failErr(w, r, se, err)
		return
	}
	title := ns.Name
	if ns.Kind == "official" {
		title = "Official images"
	}
	s.render(w, r, se, http.StatusOK, "namespace", title, ns)
}

type signinContent struct {
	Next, User, Error, FormCSRF string
}

func (s *Site) signinPage(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	next := localPath(r.URL.Query().Get("next"))
	if se != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, http.StatusOK, "signin", "Sign in", signinContent{Next: next, FormCSRF: s.formCSRF(w, r)})
}

func (s *Site) signinPost(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.PostFormValue("next"))
	user := strings.TrimSpace(r.PostFormValue("username"))
	c := signinContent{Next: next, User: user, FormCSRF: s.formCSRF(w, r)}
	if !checkCSRF(r, nil) {
		c.Error = "The form had expired: please sign in again."
		s.render(w, r, nil, http.StatusForbidden, "signin", "Sign in", c)
		return
	}
	if err := s.signIn(r.Context(), w, user, r.PostFormValue("password")); err != nil {
		var status int
		c.Error, status = signInFailure(w, err)
		s.render(w, r, nil, status, "signin", "Sign in", c)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signInFailure is what the form says when signing in failed, and the
// page's status: a throttled attempt keeps the hub's 429, Retry-After and
// message, which says how long to wait.
func signInFailure(w http.ResponseWriter, err error) (string, int) {
	var e *apiError
	switch {
	case errors.As(err, &e) && e.Status == http.StatusUnauthorized:
		return "Incorrect username or password.", http.StatusUnauthorized
	case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
		if e.RetryAfter != "" {
			w.Header().Set("Retry-After", e.RetryAfter)
		}
		return sentence(e.Message), http.StatusTooManyRequests
	}
	return "Signing in failed: " + err.Error(), http.StatusInternalServerError
}

// sentence capitalises a message and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

func (s *Site) signout(w http.ResponseWriter, r *http.Request) {
	se := s.session(w, r)
	if se != nil && !checkCSRF(r, se) {
		s.fail(w, r, se, http.StatusForbidden, "The form had expired or came from elsewhere: go back, reload and try again.")
		return
	}
	s.clearSession(w)
	if se != nil {
		if err := s.revoke(r.Context(), se.refresh); err != nil {
			s.log.Warn("revoking a session at sign-out", "user", se.user.Name, "err", err)
			s.fail(w, r, nil, http.StatusInternalServerError, "You are signed out in this browser, but the hub could not end the session, so a copy of its cookie would still work: "+err.Error())
			return
		}
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
