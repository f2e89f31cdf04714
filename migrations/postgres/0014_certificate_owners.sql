-- Who may use a certificate: a JSON array of namespace patterns (`team-x`, `team-x-*`); an
-- application may terminate TLS with the certificate only where it is placed in one of them.
-- NULL marks a version uploaded before certificates had owners: the first start after this
-- migration grants each current one to the namespaces of the applications that use it then
-- (audited as certificate.owners_granted) and nothing else; history rows get no owners.
ALTER TABLE certificates ADD COLUMN owners TEXT;
