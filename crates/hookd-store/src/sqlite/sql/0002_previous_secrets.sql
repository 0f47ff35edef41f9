-- Version 2: signing keys replaced by a rotation, kept until they expire (JSON list).
ALTER TABLE endpoints ADD COLUMN previous_secrets TEXT NOT NULL DEFAULT '[]';
