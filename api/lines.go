package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/queue"
)

func (s *lineAPI) listConnectors(w http.ResponseWriter, _ *http.Request, _ portal.Portal, _ []byte) {
	writeJSON(w, http.StatusOK, map[string]any{"connectors": s.Registry.Describe()})
}

func (s *lineAPI) listLines(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	lines, err := s.Records.ListLines(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, "list lines", err)
		return
	}
	if lines == nil {
		lines = []portal.Line{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"lines": lines})
}

func (s *lineAPI) createLine(w http.ResponseWriter, r *http.Request, p portal.Portal, body []byte) {
	var in struct {
		Name string `json:"name"`
	}
	if !decode(w, body, &in) {
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		writeErrorFields(w, http.StatusUnprocessableEntity, "invalid", "line name is required", map[string]string{"name": "required"})
		return
	}
	l, err := s.Records.CreateLine(r.Context(), p.ID, in.Name)
	if err != nil {
		s.internal(w, r, "create line", err)
		return
	}
	writeJSON(w, http.StatusCreated, l)
}

// lineStatus is a line with its delivery state.
type lineStatus struct {
	portal.Line
	Queue queue.LineStatus `json:"queue"`
}

func (s *lineAPI) getLine(w http.ResponseWriter, r *http.Request, p portal.Portal, _ []byte) {
	l, ok := s.ownLine(w, r, p)
	if !ok {
		return
	}
	st, err := s.Outbox.Status(r.Context(), l.ID)
	if err != nil {
		s.internal(w, r, "line status", err)
		return
	}
	writeJSON(w, http.StatusOK, lineStatus{Line: l, Queue: st})
}

// ownLine loads the line named in the path if it belongs to the portal; a
// line of another portal is reported as not found, like a missing one.
func (s *base) ownLine(w http.ResponseWriter, r *http.Request, p portal.Portal) (portal.Line, bool) {
	l, err := s.Records.GetLine(r.Context(), r.PathValue("line"))
	if err == nil && l.PortalID != p.ID {
		err = portal.ErrNotFound
	}
	if errors.Is(err, portal.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such line")
		return l, false
	}
	if err != nil {
		s.internal(w, r, "get line", err)
		return l, false
	}
	return l, true
}

func (s *base) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.logger(r).Error("api: "+what, slog.Any("err", err))
	writeError(w, http.StatusInternalServerError, "internal", "internal error")
}

func decode(w http.ResponseWriter, body []byte, v any) bool {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "malformed_json", "body is not valid JSON for this call: "+err.Error())
		return false
	}
	return true
}
