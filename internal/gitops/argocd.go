// Package gitops evaluates the health checks that GitOps tools apply to
// Blueprints, the way those tools evaluate them, so that the checks this
// repository ships can be tested against real Blueprint statuses.
package gitops

import (
	"context"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Argo CD health statuses a script may return.
const (
	ArgoHealthy     = "Healthy"
	ArgoProgressing = "Progressing"
	ArgoDegraded    = "Degraded"
	ArgoSuspended   = "Suspended"
	ArgoMissing     = "Missing"
	ArgoUnknown     = "Unknown"
)

// argoInvalidStatus is the message Argo CD shows when a script returns a
// status it does not know.
const argoInvalidStatus = "Lua returned an invalid health status"

// argoTimeout is the deadline Argo CD gives one run of a health script.
const argoTimeout = time.Second

// ArgoHealth runs an Argo CD resource health script against obj and returns
// the hs.status and hs.message it produces. It follows Argo CD's util/lua:
// custom health checks run with only the base, package and table libraries
// (Argo CD opens the others only when useOpenLibs is set for the resource),
// obj is a global table built from the object's JSON values, the script has a
// one-second deadline, and a status Argo CD does not know becomes Unknown.
// Argo CD also offers a restricted os library. It is left out: a script that
// needs it fails here, and has to be tested against Argo CD itself.
func ArgoHealth(script string, obj map[string]any) (status, message string, err error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", fmt.Errorf("opening Lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), argoTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}

	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	if status, err = stringField(hs, "status"); err != nil {
		return "", "", err
	}
	if message, err = stringField(hs, "message"); err != nil {
		return "", "", err
	}
	switch status {
	case ArgoHealthy, ArgoProgressing, ArgoDegraded, ArgoSuspended, ArgoMissing, ArgoUnknown:
		return status, message, nil
	}
	return ArgoUnknown, argoInvalidStatus, nil
}

// stringField reads a string field of the returned table. Argo CD decodes the
// table into a struct of strings, so any other type is an error there too.
func stringField(t *lua.LTable, name string) (string, error) {
	switch v := t.RawGetString(name).(type) {
	case *lua.LNilType:
		return "", nil
	case lua.LString:
		return string(v), nil
	default:
		return "", fmt.Errorf("hs.%s is a %s, not a string", name, v.Type())
	}
}

// toLua converts an object's values as Argo CD does: numbers become Lua
// numbers whether decoding made them float64 or int64, lists become
// sequences, and anything else becomes nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}
