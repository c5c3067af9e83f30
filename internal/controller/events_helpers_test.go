package controller

import (
	"context"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// eventNotesOf returns the notes of the events with reason recorded in
// namespace ns, for Eventually.
func eventNotesOf(ns, reason string) func(Gomega) []string {
	return func(g Gomega) []string {
		events := &eventsv1.EventList{}
		g.Expect(k8sClient.List(context.Background(), events, client.InNamespace(ns))).To(Succeed())
		var notes []string
		for _, e := range events.Items {
			if e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}
}
