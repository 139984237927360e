-- A reveal counts as delivered only once posted: rounds closed before this migration were.
ALTER TABLE rounds ADD COLUMN announced_at TEXT;
UPDATE rounds SET announced_at = closed_at WHERE state <> 'open';
