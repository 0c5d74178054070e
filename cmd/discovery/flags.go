package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// configFlags registers one flag per config key (-domain, -refreshSeconds, …) on
// fs. The flags only record what was given; apply writes it over the config read
// from the file, so that flags override the file whatever their order.
type configFlags struct {
	set map[string]string // canonical key → raw flag value, in the order given
	// order keeps application deterministic (the order the flags were given).
	order []string
}

func newConfigFlags(fs *flag.FlagSet) *configFlags {
	cf := &configFlags{set: map[string]string{}}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("json")
		if f.Type == reflect.TypeOf(Credentials{}) {
			continue // secrets never on the command line (visible in ps)
		}
		if f.Tag.Get("flag") == "-" {
			continue
		}
		usage := keyHelp[key] + " (config key " + key + ")" + flagHint(f.Type)
		if f.Type.Kind() == reflect.Bool {
			fs.Var(&boolKeyFlag{keyFlag{cf: cf, key: key}}, key, usage)
		} else {
			fs.Var(&keyFlag{cf: cf, key: key}, key, usage)
		}
	}
	return cf
}

func flagHint(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		return " (comma-separated list)"
	case reflect.Map:
		return " (zone=ip[:port][,ip…]; repeat the flag for more zones)"
	}
	return ""
}

type keyFlag struct {
	cf  *configFlags
	key string
}

func (k *keyFlag) String() string { return "" }
func (k *keyFlag) Set(v string) error {
	if prev, ok := k.cf.set[k.key]; ok && isMapKey(k.key) {
		v = prev + ";" + v
	} else if !ok {
		k.cf.order = append(k.cf.order, k.key)
	}
	k.cf.set[k.key] = v
	return nil
}

type boolKeyFlag struct{ keyFlag }

func (b *boolKeyFlag) IsBoolFlag() bool { return true }
func (b *boolKeyFlag) Set(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("want true or false, got %q", v)
	}
	return b.keyFlag.Set(v)
}

func isMapKey(key string) bool {
	i := configKeys[strings.ToLower(key)]
	return reflect.TypeOf(Config{}).Field(i).Type.Kind() == reflect.Map
}

// given reports whether the flag for key was on the command line.
func (cf *configFlags) given(key string) bool {
	_, ok := cf.set[key]
	return ok
}

// apply writes the flags given over cfg. Errors name the flag.
func (cf *configFlags) apply(cfg *Config) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, key := range cf.order {
		raw := cf.set[key]
		field := v.Field(configKeys[strings.ToLower(key)])
		if err := setFromString(field, raw); err != nil {
			return fmt.Errorf("flag -%s: %w", key, err)
		}
	}
	return nil
}

func setFromString(field reflect.Value, raw string) error {
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		field.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", raw)
		}
		field.SetInt(int64(n))
	case reflect.Uint32:
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil {
			return fmt.Errorf("want a whole number, got %q", raw)
		}
		field.SetUint(n)
	case reflect.Slice:
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		field.Set(reflect.ValueOf(list))
	case reflect.Map:
		m := map[string][]string{}
		for _, zone := range strings.Split(raw, ";") {
			name, list, ok := strings.Cut(zone, "=")
			if !ok || name == "" {
				return fmt.Errorf("want zone=ip[,ip…], got %q", zone)
			}
			for _, s := range strings.Split(list, ",") {
				if s = strings.TrimSpace(s); s != "" {
					m[name] = append(m[name], s)
				}
			}
		}
		field.Set(reflect.ValueOf(m))
	default:
		// Not reached for the key types Config has; keep the error for safety.
		b, _ := json.Marshal(raw)
		return fmt.Errorf("cannot set %s from %s", field.Type(), b)
	}
	return nil
}
