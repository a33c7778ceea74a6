"""Phase 2: a label set + a phase-1 run -> injected labels -> classifier on Ray Train -> registry."""
