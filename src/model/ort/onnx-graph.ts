// A small builder of ONNX ModelProto bytes (via onnx-proto's generated protobufjs classes): named
// graph inputs/outputs with symbolic dims, f32/int64 initializers, and nodes whose output names are
// generated. Only what the Llama pieces need; ONNX Runtime Web loads the bytes directly.
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

// onnx-proto is CommonJS (`module.exports = { onnx }`): a default import works in Node ESM and Vite alike.
const { onnx } = onnxProto;

export type ElemType = 'float32' | 'int32' | 'int64';
/** A dim is a fixed size or a symbolic name ('T', 'P', 'S'): ORT then accepts any size there. */
export type Dim = number | string;
/** Node attributes: integers and integer lists are INT/INTS; `{ f }` is a FLOAT. */
export type Attr = number | number[] | { f: number };

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
};

/** ONNX opset 17: ReduceMean still takes `axes` as an attribute (an input from 18 on). */
export const OPSET = 17;

export class GraphBuilder {
  private readonly nodes: P.INodeProto[] = [];
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private readonly inits: P.ITensorProto[] = [];
  private readonly initNames = new Set<string>();
  private readonly consts = new Map<string, string>(); // "i64:1,2" -> initializer name (deduplicated)
  private counter = 0;
  /** Bytes of float initializers added so far (what the session will hold as weights). */
  floatBytes = 0;

  constructor(readonly name: string) {}

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: ElemType, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  hasInit(name: string): boolean {
    return this.initNames.has(name);
  }

  /** An f32 initializer stored as raw little-endian bytes (protobufjs copies them into the message). */
  initF32(name: string, data: Float32Array, dims: number[]): string {
    if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`initializer ${name}: ${data.length} floats for dims [${dims}]`);
    if (this.initNames.has(name)) throw new Error(`initializer ${name} defined twice`);
    this.initNames.add(name);
    this.floatBytes += data.byteLength;
    this.inits.push({
      name,
      dataType: ELEM.float32,
      dims,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A small int64 constant (shapes, split sizes, slice bounds), shared by every node that uses the same values. */
  constI64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims}:${values}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `c${this.consts.size}_i64`;
    this.inits.push({ name, dataType: ELEM.int64, dims, int64Data: values });
    this.consts.set(key, name);
    this.initNames.add(name);
    return name;
  }

  /** A scalar f32 constant ([] dims), deduplicated like constI64. */
  constF32(value: number): string {
    const key = `f32:${value}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `c${this.consts.size}_f32`;
    this.inits.push({ name, dataType: ELEM.float32, dims: [], floatData: [value] });
    this.consts.set(key, name);
    this.initNames.add(name);
    return name;
  }

  /**
   * Adds a node and returns its output names: `outs` names them (graph outputs need fixed names),
   * a number asks for that many generated names.
   */
  nodeN(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outs: number | string[] = 1, domain = ''): string[] {
    const id = this.counter++;
    const outputs = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => `${opType.toLowerCase()}_${id}_${i}`) : outs;
    this.nodes.push({
      name: `${opType}_${id}`,
      opType,
      domain,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outputs;
  }

  /** One-output node; `out` fixes the output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    return this.nodeN(opType, inputs, attrs, out ? [out] : 1)[0];
  }

  /** Serialized ModelProto (IR version 8, default-domain opset 17). */
  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'tabmesh',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: {
        name: this.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.inits,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.f };
  if (!Number.isInteger(v)) throw new Error(`attribute ${name}=${v}: pass floats as { f }`);
  return { name, type: T.INT, i: v };
}
