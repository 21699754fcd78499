// A charge point written with ocpp-rpc (an independent OCPP 1.6J implementation, with its own
// JSON schemas in strict mode), run by tests/gateway/test_interop.py against our central system.
//
//   CSMS_URL=ws://127.0.0.1:PORT CP_ID=CA-322 CP_PASSWORD=... node tests/gateway/ocpp_rpc_cp.js
//
// It boots, reports Available, authorizes, starts a transaction, follows the TxProfile it
// receives (power = the limit in force, read from the profile), reports meter values each
// time it gets a profile, and stops the transaction when asked (RemoteStopTransaction).
// Every step is one JSON line on stdout: {"event": ..., ...}. Exit code 0 = the flow completed.
'use strict';
const { RPCClient } = require('ocpp-rpc');

const url = process.env.CSMS_URL;
const identity = process.env.CP_ID;
const password = process.env.CP_PASSWORD;
const unit = process.env.CP_UNIT || 'Power';
const voltage = Number(process.env.CP_VOLTAGE || '230');

function say(event, extra) {
    process.stdout.write(JSON.stringify(Object.assign({ event }, extra || {})) + '\n');
}

let meterWh = 12000;
let txId = null;
let profile = null;
let lastPowerW = 0;
let stopped = null;
const failures = [];

function limitW(prof, at) {
    const sched = prof.chargingSchedule;
    const start = new Date(sched.startSchedule || at).getTime();
    let limit = null;
    for (const p of sched.chargingSchedulePeriod) {
        if (start + 1000 * p.startPeriod <= at.getTime() || limit === null) limit = p.limit;
    }
    const phases = 1;
    return sched.chargingRateUnit === 'A' ? limit * voltage * phases : limit;
}

async function meter(client, at) {
    await client.call('MeterValues', {
        connectorId: 1,
        transactionId: txId,
        meterValue: [{
            timestamp: at.toISOString(),
            sampledValue: [
                { value: meterWh.toFixed(1), measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
                { value: lastPowerW.toFixed(1), measurand: 'Power.Active.Import', unit: 'W', context: 'Sample.Periodic' },
                { value: '42', measurand: 'SoC', unit: 'Percent', context: 'Sample.Periodic' },
            ],
        }],
    });
}

async function main() {
    const client = new RPCClient({
        endpoint: url,
        identity,
        password,
        protocols: ['ocpp1.6'],
        strictMode: true,
        reconnect: false,
        callTimeoutMs: 10000,
    });
    client.on('strictValidationFailure', (ev) => {
        failures.push(String(ev.error && ev.error.message));
        say('strict_failure', { error: String(ev.error && ev.error.message) });
    });
    let resolveStop;
    const stopRequested = new Promise((r) => { resolveStop = r; });

    client.handle('GetConfiguration', ({ params }) => {
        const known = { ChargingScheduleAllowedChargingRateUnit: unit, ChargingScheduleMaxPeriods: '24' };
        const keys = params.key || Object.keys(known);
        say('get_configuration', { keys });
        return {
            configurationKey: keys.filter((k) => k in known).map((k) => ({ key: k, readonly: true, value: known[k] })),
            unknownKey: keys.filter((k) => !(k in known)),
        };
    });
    client.handle('SetChargingProfile', ({ params }) => {
        const prof = params.csChargingProfiles;
        if (prof.chargingProfilePurpose === 'TxDefaultProfile' && params.connectorId === 0) {
            say('default_profile', { profile: prof });
            return { status: 'Accepted' };
        }
        if (prof.chargingProfilePurpose !== 'TxProfile' || prof.transactionId !== txId) {
            say('profile_rejected', { profile: prof });
            return { status: 'Rejected' };
        }
        profile = prof;
        say('profile', { profile: prof });
        setImmediate(async () => {
            const now = new Date();
            lastPowerW = Math.min(7000, limitW(profile, now));
            meterWh += 250;
            await meter(client, now);
            say('meter_sent', { power_w: lastPowerW, meter_wh: meterWh });
        });
        return { status: 'Accepted' };
    });
    client.handle('TriggerMessage', ({ params }) => {
        say('trigger', { requested: params.requestedMessage });
        return { status: 'Accepted' };
    });
    client.handle('ClearChargingProfile', () => ({ status: 'Accepted' }));
    client.handle('RemoteStopTransaction', ({ params }) => {
        const ok = params.transactionId === txId;
        if (ok) setImmediate(() => resolveStop());
        return { status: ok ? 'Accepted' : 'Rejected' };
    });
    client.handle(({ method }) => {
        say('unhandled', { method });
        const { createRPCError } = require('ocpp-rpc');
        throw createRPCError('NotImplemented');
    });

    await client.connect();
    say('connected');
    const boot = await client.call('BootNotification', { chargePointVendor: 'ocpp-rpc', chargePointModel: 'interop' });
    say('boot', { status: boot.status, interval: boot.interval });
    if (boot.status !== 'Accepted') throw new Error('boot not accepted');
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const auth = await client.call('Authorize', { idTag: 'INTEROP1' });
    say('authorized', { status: auth.idTagInfo.status });
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing' });
    const start = await client.call('StartTransaction', {
        connectorId: 1, idTag: 'INTEROP1', meterStart: meterWh, timestamp: new Date().toISOString(),
    });
    txId = start.transactionId;
    say('started', { transaction_id: txId });
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });

    await stopRequested;
    lastPowerW = 0;
    stopped = await client.call('StopTransaction', {
        transactionId: txId, meterStop: meterWh, timestamp: new Date().toISOString(), reason: 'Remote',
    });
    say('stopped', { status: stopped.idTagInfo && stopped.idTagInfo.status, meter_wh: meterWh });
    await client.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Finishing' });
    await client.close({ code: 1000 });
    say('done', { failures });
    process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
    say('error', { error: String(err && err.stack || err) });
    process.exit(2);
});
