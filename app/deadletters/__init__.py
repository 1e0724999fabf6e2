"""Dead letters: events and writes that failed every attempt, and events rejected at the edge."""
