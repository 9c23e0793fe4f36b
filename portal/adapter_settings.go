package portal

import (
	"sort"
	"strings"
)

// AdapterSettingErrors are what is wrong with adapter settings, by key
// ("" for the settings as a whole), in plain words.
type AdapterSettingErrors map[string]string

func (e AdapterSettingErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if k == "" {
			parts = append(parts, e[k])
		} else {
			parts = append(parts, k+": "+e[k])
		}
	}
	return strings.Join(parts, "; ")
}

// CheckAdapterSettings checks settings against the adapter's Describer
// (a Deliverer without one takes any keys): every required key is set,
// and every key is one it lists, or one of them followed by "." and a
// suffix (a line's own value, as rt's queue.<line id>). It returns nil or
// AdapterSettingErrors.
func CheckAdapterSettings(d Deliverer, kind string, settings map[string]string) error {
	desc, ok := d.(Describer)
	if !ok {
		return nil
	}
	errs := AdapterSettingErrors{}
	known := map[string]bool{}
	var names []string
	for _, s := range desc.Settings() {
		known[s.Key] = true
		names = append(names, s.Key)
		if s.Required && strings.TrimSpace(settings[s.Key]) == "" {
			errs[s.Key] = "required (" + s.Label + ")"
		}
	}
	for k := range settings {
		base, _, _ := strings.Cut(k, ".")
		if !known[k] && !known[base] {
			errs[k] = "not a setting of kind " + kind + " (its settings: " + strings.Join(names, ", ") + ")"
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
