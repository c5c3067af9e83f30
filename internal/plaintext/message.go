package plaintext

import (
	"fmt"
	"strings"
)

// Fix is what to do about a finding, said after every one of them.
const Fix = "store the value in a Secret and write ${secret:NAME/KEY}, or let the operator generate it (value: auto-generated); " +
	"if it is not a secret, list it in the service's allowPlaintext"

// Message words the findings of one service for a condition, an event or a
// log: the service, each field and rule, and the fix; never a value.
func Message(service string, findings []Finding) string {
	parts := make([]string, len(findings))
	for i, f := range findings {
		parts[i] = fmt.Sprintf("%s (rule %s)", f.Where, f.Rule)
	}
	return fmt.Sprintf("service %s: %s %s a literal credential: %s",
		service, strings.Join(parts, ", "), plural(len(findings), "holds", "hold"), Fix)
}

// FieldMessage words one finding for a field path (kubectl blueprint
// validate), which already names the service and the field.
func FieldMessage(f Finding) string {
	return fmt.Sprintf("holds a literal credential (rule %s): %s", f.Rule, Fix)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
