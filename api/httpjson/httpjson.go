// Package httpjson writes the gateway's JSON answers, so every HTTP surface
// (the portal API, the widget) answers errors in one shape:
// {"error":{"code","message","fields"}}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

// Write answers v as JSON with the status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers an error body; fields (may be nil) name bad input fields.
func Error(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	var e ErrorBody
	e.Error.Code, e.Error.Message, e.Error.Fields = code, msg, fields
	Write(w, status, e)
}
