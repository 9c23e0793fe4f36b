package console

import (
	"net/http"
	"sort"

	"github.com/connector-gateway/connector/connectors"
)

// fieldView is one setting of a connector's form, generated from the
// connector's own description (so a new channel needs no console change).
type fieldView struct {
	connectors.Field
	// ID is the input's id; Name its form name ("s.<key>").
	ID, Name string
	// Value is shown in the input; always empty for a secret.
	Value string
	// Set tells that a secret has a stored value (shown as "set").
	Set   bool
	Error string
}

// InputType is the HTML input type of a text-like field.
func (f fieldView) InputType() string {
	switch f.Type {
	case "secret":
		return "password"
	case "url":
		return "url"
	}
	return "text"
}

// formView is a connector's settings form.
type formView struct {
	Connector connectors.Description
	Fields    []fieldView
	// Other lists errors about keys that are not fields of the form.
	Other []string
}

// settingsForm builds the form of a connector: values shown are the
// submitted ones, else the stored ones, else the field's default; secrets
// are never shown, only whether one is stored.
func settingsForm(d connectors.Description, submitted, stored connectors.Settings, errs connectors.FieldErrors) formView {
	v := formView{Connector: d}
	known := map[string]bool{}
	for _, f := range d.Fields {
		known[f.Key] = true
		fv := fieldView{Field: f, ID: "f-" + d.Type + "-" + f.Key, Name: "s." + f.Key, Error: errs[f.Key]}
		if f.Type == "secret" {
			fv.Set = stored[f.Key] != ""
		} else if val, ok := submitted[f.Key]; ok {
			fv.Value = val
		} else if val, ok := stored[f.Key]; ok {
			fv.Value = val
		} else {
			fv.Value = f.Default
		}
		v.Fields = append(v.Fields, fv)
	}
	for k, msg := range errs {
		if !known[k] {
			v.Other = append(v.Other, k+": "+msg)
		}
	}
	sort.Strings(v.Other)
	return v
}

// readSettings takes a connector's fields from a posted form. An unticked
// checkbox is sent as nothing, so a bool field reads "true" or "false".
func readSettings(r *http.Request, d connectors.Description) connectors.Settings {
	out := connectors.Settings{}
	for _, f := range d.Fields {
		name := "s." + f.Key
		if f.Type == "bool" {
			if r.PostForm.Get(name) != "" {
				out[f.Key] = "true"
			} else {
				out[f.Key] = "false"
			}
			continue
		}
		if _, sent := r.PostForm[name]; sent {
			out[f.Key] = r.PostForm.Get(name)
		}
	}
	return out
}

// publicSettings lists the non-secret settings of a connection (for the
// audit trail and the connection page); secret keys are only named.
func publicSettings(d connectors.Description, s connectors.Settings) (shown []keyValue, secrets []keyValue) {
	for _, f := range d.Fields {
		if f.Type == "secret" {
			state := "not set"
			if s[f.Key] != "" {
				state = "set"
			}
			secrets = append(secrets, keyValue{Key: f.Key, Label: f.Label, Value: state})
			continue
		}
		shown = append(shown, keyValue{Key: f.Key, Label: f.Label, Value: s[f.Key]})
	}
	return shown, secrets
}

type keyValue struct{ Key, Label, Value string }
