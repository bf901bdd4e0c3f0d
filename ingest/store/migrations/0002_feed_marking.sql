-- A feed's releasability (its default marking): who may see that the feed exists and how it fares.
-- NULL: not declared, administrators only (as for any unmarked record).
ALTER TABLE watchfloor_feeds ADD COLUMN marking text;
