/**
 * A small CA and one certificate per node, so TLS needs no openssl by hand.
 * Keys come from node:crypto; node-forge (pure JS, loaded only here) builds
 * and signs the X.509 certificates. A node certificate names the node, its
 * `.local` mDNS name, localhost and 127.0.0.1, and serves as both server and
 * client certificate (mutual TLS). A `client` certificate is made too, for
 * machines that only submit.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

const YEARS = 10;

function keyPair(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return { pem, forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function certificate(
  subject: string,
  publicKey: forge.pki.PublicKey,
  issuer: forge.pki.CertificateField[] | undefined,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + YEARS * 365 * 86_400_000);
  const attrs = [
    { name: 'commonName', value: subject },
    { name: 'organizationName', value: 'picompute cluster' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(issuer ?? attrs);
  cert.setExtensions(extensions);
  return cert;
}

function altNames(name: string): object[] {
  const names = new Set([name, 'localhost']);
  if (!isIP(name) && !name.includes('.')) names.add(`${name}.local`);
  const out: object[] = [...names].map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n }));
  out.push({ type: 7, ip: '127.0.0.1' });
  return out;
}

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
}

/** Makes (or reuses) the CA in `dir` and a certificate for each node; returns the files written. */
export async function makeTlsFiles(dir: string, nodes: string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caCertPath = join(dir, 'ca.crt');
  const caKeyPath = join(dir, 'ca.key');
  const written: string[] = [];
  let caCert: forge.pki.Certificate;
  let caKey: forge.pki.rsa.PrivateKey;
  if (await stat(caKeyPath).catch(() => undefined)) {
    caCert = forge.pki.certificateFromPem(await readFile(caCertPath, 'utf8'));
    caKey = forge.pki.privateKeyFromPem(await readFile(caKeyPath, 'utf8'));
  } else {
    const ca = keyPair();
    caKey = ca.forgeKey;
    caCert = certificate('picompute CA', ca.publicKey, undefined, [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ]);
    caCert.sign(caKey, forge.md.sha256.create());
    await writeFile(caCertPath, forge.pki.certificateToPem(caCert));
    await writeSecret(caKeyPath, ca.pem);
    written.push(caCertPath, caKeyPath);
  }
  for (const name of [...new Set([...nodes, 'client'])]) {
    const node = keyPair();
    const cert = certificate(name, node.publicKey, caCert.subject.attributes, [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: altNames(name) },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    const base = join(dir, name.replace(/[^\w.-]/g, '_'));
    await writeFile(`${base}.crt`, forge.pki.certificateToPem(cert));
    await writeSecret(`${base}.key`, node.pem);
    written.push(`${base}.crt`, `${base}.key`);
  }
  return written;
}
