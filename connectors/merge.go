package connectors

// MergeSettings applies the values in changes to stored, the settings of a
// connector described by d, and returns the result. A secret field sent empty
// keeps its stored value: secrets are never shown, so a form cannot send
// them back. Any other key sent replaces the stored value. Neither input is
// modified; the result still needs ValidateSettings.
func MergeSettings(d Description, stored, changes Settings) Settings {
	secret := make(map[string]bool, len(d.Fields))
	for _, f := range d.Fields {
		secret[f.Key] = f.Type == "secret"
	}
	out := make(Settings, len(stored)+len(changes))
	for k, v := range stored {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" && secret[k] {
			continue
		}
		out[k] = v
	}
	return out
}
